#include "protocol/wire/messages.h"

namespace qxlbox::proto::wire {

namespace {

template <class... Ms>
Result<Bytes> marshal_draw_as(const DrawCommand& cmd, std::uint16_t& type_out) {
    std::optional<Result<Bytes>> out;
    auto try_one = [&]<class M>() {
        if (out || !std::holds_alternative<typename M::OpType>(cmd.op)) return;
        type_out = M::kType;
        BodyWriter w;
        wirecodec::display_base(w, const_cast<DrawCommand&>(cmd));
        wirecodec::draw_op(w, const_cast<typename M::OpType&>(std::get<typename M::OpType>(cmd.op)));
        out.emplace(w.finish());
    };
    (try_one.template operator()<Ms>(), ...);
    if (!out) return make_error(ErrorCode::InternalError, "draw op without a display message");
    return std::move(*out);
}

}  // namespace

Result<Bytes> marshal_draw(const DrawCommand& cmd, std::uint16_t& type_out) {
    return marshal_draw_as<MsgDisplayDrawFill, MsgDisplayDrawOpaque, MsgDisplayDrawCopy, MsgDisplayDrawBlend,
                           MsgDisplayDrawBlackness, MsgDisplayDrawWhiteness, MsgDisplayDrawInvers, MsgDisplayDrawRop3,
                           MsgDisplayDrawStroke, MsgDisplayDrawText, MsgDisplayDrawTransparent,
                           MsgDisplayDrawAlphaBlend, MsgDisplayDrawComposite, MsgDisplayCopyBits>(cmd, type_out);
}

namespace {
template <class F>
auto with_set(ChannelType channel, Direction dir, F&& f) {
    const bool s2c = dir == Direction::ServerToClient;
    switch (channel) {
    case ChannelType::Main: return s2c ? f(MainServerMessages{}) : f(MainClientMessages{});
    case ChannelType::Display: return s2c ? f(DisplayServerMessages{}) : f(DisplayClientMessages{});
    case ChannelType::Cursor: return s2c ? f(CursorServerMessages{}) : f(CursorClientMessages{});
    case ChannelType::Inputs: return s2c ? f(InputsServerMessages{}) : f(InputsClientMessages{});
    default: return s2c ? f(BaseServerMessages{}) : f(BaseClientMessages{});
    }
}
}  // namespace

std::string_view message_name(ChannelType channel, Direction dir, std::uint16_t type) {
    return with_set(channel, dir, [type](auto set) { return decltype(set)::name(type); });
}

bool message_known(ChannelType channel, Direction dir, std::uint16_t type) {
    return with_set(channel, dir, [type](auto set) { return decltype(set)::knows(type); });
}

}  // namespace qxlbox::proto::wire
