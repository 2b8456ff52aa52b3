#include "canvas_test_util.h"
