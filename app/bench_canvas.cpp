#include "app/commands.h"

namespace qxlbox::app {
int bench_canvas(const std::vector<std::string>&) { return not_implemented("'qxlbox bench canvas'"); }
}  // namespace qxlbox::app
