# The one warnings list. Every target in the tree gets it; -Werror is on
# everywhere (developers and CI alike) so a warning never lands.
set(DMARCSIFT_WARNINGS
  -Wall -Wextra -Werror
  -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
  -Wpointer-arith -Wcast-qual -Wvla -Wundef -Wwrite-strings
)
add_compile_options(${DMARCSIFT_WARNINGS})
add_compile_definitions(_POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
