#include "tests/core/check_core.h"
Suite *multi_mem_blocks_suite(void)
{
	return suite_create("multi_mem_blocks");
}
