#include "tests/core/check_core.h"
Suite *mem_blocks_define_suite(void)
{
	return suite_create("mem_blocks_define");
}
