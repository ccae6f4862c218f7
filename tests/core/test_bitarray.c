#include "tests/core/check_core.h"
Suite *bitarray_suite(void)
{
	return suite_create("bitarray");
}
