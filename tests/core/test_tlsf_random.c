#include "tests/core/check_core.h"
Suite *tlsf_random_suite(void)
{
	return suite_create("tlsf_random");
}
