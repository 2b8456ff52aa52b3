#include "app/commands.h"

namespace qxlbox::app {
int run_demo() { return not_implemented("the demo"); }
}  // namespace qxlbox::app
