/* keeps the test-support library non-empty */
int testsupport_empty_unit_(void);
int testsupport_empty_unit_(void)
{
	return 0;
}
