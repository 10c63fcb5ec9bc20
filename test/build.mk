# The top Makefile includes */build.mk one level deep; test parts live below test/.
include test/lincheck/build.mk
