#include "protocol/wire/body_io.h"

namespace qxlbox::proto::wire {

namespace {
// Pointers may alias, so a body can describe more data than it holds; allow some headroom
// for element overhead but never unbounded growth.
constexpr std::uint64_t kBudgetFactor = 8;
constexpr std::uint64_t kBudgetSlackBytes = 64 * 1024;
}  // namespace

BodyReader::BodyReader(ByteView body, std::size_t pos) : body_(body), pos_(pos), state_(std::make_shared<Shared>()) {
    state_->budget_bytes = body.size() * kBudgetFactor + kBudgetSlackBytes;
    if (pos > body.size()) fail(ErrorCode::BadPointer, "start offset past end of body");
}

bool BodyReader::charge(std::uint64_t n) {
    if (n > state_->budget_bytes) {
        fail(ErrorCode::TooLarge, "message expands beyond its allocation budget");
        return false;
    }
    state_->budget_bytes -= n;
    return true;
}

void BodyReader::bytes(Bytes& v, std::uint64_t n) {
    if (!ok()) return;
    if (n > remaining()) return fail(ErrorCode::Truncated, "byte array past end of body");
    if (!charge(n)) return;
    v.assign(body_.begin() + static_cast<std::ptrdiff_t>(pos_), body_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += static_cast<std::size_t>(n);
}

void BodyReader::rest(Bytes& v) { bytes(v, remaining()); }

Result<Bytes> BodyWriter::finish() {
    while (ok() && !deferred_.empty()) {
        Deferred d = std::move(deferred_.front());
        deferred_.pop_front();
        if (out_.size() > std::numeric_limits<std::uint32_t>::max()) {
            fail(ErrorCode::TooLarge, "body exceeds 4 GiB");
            break;
        }
        store_le(out_.data() + d.patch_at, static_cast<std::uint32_t>(out_.size()));
        d.write(*this);
    }
    if (!ok()) return *error_;
    if (out_.size() > std::numeric_limits<std::uint32_t>::max()) return make_error(ErrorCode::TooLarge, "body exceeds 4 GiB");
    return std::move(out_);
}

}  // namespace qxlbox::proto::wire
