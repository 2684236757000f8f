# The project's warning policy, as one interface target every library and program links.
add_library(uplift_warnings INTERFACE)
target_compile_options(uplift_warnings INTERFACE
  -Wall -Wextra -Wconversion -Wsign-conversion -Wsuggest-override -Wold-style-cast
  -Wnon-virtual-dtor -Wshadow=local -Werror)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # clang spells some of these differently; keep the set equivalent.
  target_compile_options(uplift_warnings INTERFACE -Wno-unknown-warning-option)
endif()
