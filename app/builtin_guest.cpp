#include "app/builtin_guest.h"

namespace qxlbox::embedded {
extern const unsigned char guest_elf[];
extern const std::size_t guest_elf_size;
}  // namespace qxlbox::embedded

namespace qxlbox::app {

machine::MultibootImage builtin_guest_image(std::vector<std::uint8_t> module, const std::string& module_name) {
    machine::MultibootImage image;
    image.kernel.assign(embedded::guest_elf, embedded::guest_elf + embedded::guest_elf_size);
    image.cmdline = "qxlbox-guest.elf";
    machine::MultibootModule m;
    m.cmdline = module_name;
    m.data = std::move(module);
    image.modules.push_back(std::move(m));
    return image;
}

}  // namespace qxlbox::app
