/* The core layer's Check suites, run by tests/core/check_core. */
#ifndef ALLOCATORD_TESTS_CHECK_CORE_H
#define ALLOCATORD_TESTS_CHECK_CORE_H

#include <check.h>

Suite *bitarray_suite(void);
Suite *mem_blocks_suite(void);
Suite *mem_blocks_define_suite(void);
Suite *multi_mem_blocks_suite(void);
Suite *mem_blocks_random_suite(void);
Suite *mem_blocks_rebuild_suite(void);
Suite *tlsf_suite(void);
Suite *tlsf_random_suite(void);
Suite *tlsf_rebuild_suite(void);
Suite *mem_blocks_threads_suite(void);

#endif
