/* placeholder */
#include "analysis_cases.h"
#include "nbr_test.h"
static void python_cases(void) { CHECK(1); }
NBR_TEST_MAIN(TEST(python_cases))
