# uplift_module(NAME SOURCES ... DEPS ...): one library per module under libs/NAME,
# public headers in libs/NAME/include/uplift/NAME/.
function(uplift_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(uplift_${name} STATIC ${M_SOURCES})
  add_library(uplift::${name} ALIAS uplift_${name})
  target_include_directories(uplift_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(uplift_${name} PUBLIC ${M_DEPS} PRIVATE uplift_warnings ${M_PRIVATE_DEPS})
endfunction()

# uplift_test(NAME LABELS l1;l2 SOURCES ... DEPS ...): a GoogleTest binary registered with ctest.
function(uplift_test name)
  if(NOT UPLIFT_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main uplift_warnings)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                       DISCOVERY_TIMEOUT 60)
endfunction()
