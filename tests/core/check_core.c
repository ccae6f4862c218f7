/*
 * Runner for the core suites. CK_RUN_SUITE / CK_RUN_CASE select a part;
 * CK_FORK=no runs in one process (for valgrind and gdb).
 */
#include <stdlib.h>

#include "tests/core/check_core.h"

int main(void)
{
	SRunner *sr = srunner_create(bitarray_suite());
	int failed;

	srunner_add_suite(sr, mem_blocks_suite());
	srunner_add_suite(sr, mem_blocks_define_suite());
	srunner_add_suite(sr, multi_mem_blocks_suite());
	srunner_add_suite(sr, mem_blocks_random_suite());
	srunner_add_suite(sr, mem_blocks_rebuild_suite());
	srunner_add_suite(sr, tlsf_suite());
	srunner_add_suite(sr, tlsf_random_suite());
	srunner_add_suite(sr, tlsf_rebuild_suite());
	srunner_add_suite(sr, mem_blocks_threads_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
