/* The bounded per-stream message queue (common/grpc/queue.c). */
#include <check.h>
#include <string.h>

#include "../../../common/grpc/internal.h"
#include "mesh/mem.h"

START_TEST(test_grpc_queue_bound_and_order)
{
    mesh__grpc_msgq_t q;
    mesh__grpc_msgq_init(&q, 3);
    ck_assert_int_eq(mesh__grpc_msgq_push(&q, "a", 1, false), 0);
    ck_assert_int_eq(mesh__grpc_msgq_push(&q, "bb", 2, false), 0);
    ck_assert_int_eq(mesh__grpc_msgq_push(&q, "", 0, false), 0);
    ck_assert_int_eq(mesh__grpc_msgq_push(&q, "d", 1, false), MESH_GRPC_EFULL);
    ck_assert_uint_eq(q.count, 3);
    /* force is for the one unary reply, which must never bounce */
    ck_assert_int_eq(mesh__grpc_msgq_push(&q, "e", 1, true), 0);
    ck_assert_uint_eq(q.count, 4);
    mesh__grpc_msg_t *m = mesh__grpc_msgq_pop(&q);
    ck_assert_uint_eq(m->len, 1);
    ck_assert_mem_eq(m->data, "a", 1);
    mesh_free(m);
    m = mesh__grpc_msgq_pop(&q);
    ck_assert_mem_eq(m->data, "bb", 2);
    mesh_free(m);
    m = mesh__grpc_msgq_pop(&q);
    ck_assert_uint_eq(m->len, 0);
    mesh_free(m);
    /* Room again below the bound. */
    ck_assert_int_eq(mesh__grpc_msgq_push(&q, "f", 1, false), 0);
    m = mesh__grpc_msgq_pop(&q);
    ck_assert_mem_eq(m->data, "e", 1);
    mesh_free(m);
    m = mesh__grpc_msgq_pop(&q);
    ck_assert_mem_eq(m->data, "f", 1);
    mesh_free(m);
    ck_assert_ptr_null(mesh__grpc_msgq_pop(&q));
    ck_assert_ptr_null(q.tail);
    ck_assert_uint_eq(q.count, 0);
}
END_TEST

START_TEST(test_grpc_queue_oom_and_clear)
{
    mesh__grpc_msgq_t q;
    mesh__grpc_msgq_init(&q, 10);
    ck_assert_int_eq(mesh__grpc_msgq_push(&q, "keep", 4, false), 0);
    mesh_mem_fail_after(0);
    ck_assert_int_eq(mesh__grpc_msgq_push(&q, "lost", 4, false), MESH_GRPC_ENOMEM);
    mesh_mem_fail_after(-1);
    ck_assert_uint_eq(q.count, 1);
    ck_assert_int_eq(mesh__grpc_msgq_push(&q, "x", SIZE_MAX - 4, false), MESH_GRPC_ENOMEM);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(mesh__grpc_msgq_push(&q, "y", 1, false), 0);
    mesh__grpc_msgq_clear(&q);
    ck_assert_uint_eq(q.count, 0);
    ck_assert_ptr_null(q.head);
    ck_assert_ptr_null(q.tail);
}
END_TEST

Suite *grpc_queue_suite(void)
{
    Suite *s = suite_create("grpc_queue");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_grpc_queue_bound_and_order);
    tcase_add_test(tc, test_grpc_queue_oom_and_clear);
    suite_add_tcase(s, tc);
    return s;
}
