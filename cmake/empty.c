/* keeps a library target non-empty while its folder is */
int ds_empty_unit_(void);
int ds_empty_unit_(void)
{
	return 0;
}
