#include "app/commands.h"

namespace qxlbox::app {
int bench_cpu(const std::vector<std::string>&) { return not_implemented("'qxlbox bench cpu'"); }
}  // namespace qxlbox::app
