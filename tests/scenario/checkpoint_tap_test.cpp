// CheckpointTap reads the guest's COM1 bytes (guest input): only whole `CHECKPOINT <name>` and
// `DONE` lines trigger a capture, numbered in order; anything else, including overlong lines,
// is ignored.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app/checkpoints.h"
#include "app/emulator.h"

namespace qxlbox::app {
namespace {

class CheckpointTapTest : public ::testing::Test {
protected:
    void SetUp() override {
        EmulatorOptions eo;
        eo.board.serial_out = [](std::uint8_t) {};
        eo.board.debugcon_out = [](std::uint8_t) {};
        eo.spice.log = [](const std::string&) {};
        std::string error;
        emu_ = Emulator::create(eo, error);
        ASSERT_TRUE(emu_) << error;
        tap_ = std::make_unique<CheckpointTap>(*emu_, nullptr, [this](const CheckpointFrame& f) { frames_.push_back(f); });
    }
    void feed(const std::string& text) {
        for (char c : text) tap_->serial_byte(static_cast<std::uint8_t>(c));
    }

    std::unique_ptr<Emulator> emu_;
    std::unique_ptr<CheckpointTap> tap_;
    std::vector<CheckpointFrame> frames_;
};

TEST_F(CheckpointTapTest, WholeCheckpointLinesAreNumberedInOrder) {
    feed("qxlbox guest: start\nCHECKPOINT first\r\nRESULT x=OK\nCHECKPOINT second\n");
    ASSERT_EQ(frames_.size(), 2u);
    EXPECT_EQ(frames_[0].index, 1u);
    EXPECT_EQ(frames_[0].name, "first");
    EXPECT_EQ(frames_[1].index, 2u);
    EXPECT_EQ(frames_[1].name, "second");
    EXPECT_FALSE(frames_[0].done);
    EXPECT_EQ(tap_->checkpoints_seen(), 2u);
}

TEST_F(CheckpointTapTest, WithoutAPrimaryTheFrameSaysSo) {
    feed("CHECKPOINT early\n");
    ASSERT_EQ(frames_.size(), 1u);
    EXPECT_FALSE(frames_[0].server.has_value());
    EXPECT_EQ(frames_[0].server_error, "no primary surface");
    EXPECT_FALSE(frames_[0].client_running);
}

TEST_F(CheckpointTapTest, DoneIsCapturedOnce) {
    feed("DONE\nDONE\n");
    ASSERT_EQ(frames_.size(), 1u);
    EXPECT_TRUE(frames_[0].done);
    EXPECT_EQ(frames_[0].index, 0u);
    EXPECT_TRUE(tap_->done_seen());
}

TEST_F(CheckpointTapTest, OtherLinesAreIgnored) {
    feed("CHECKPOINT\nCHECKPOINT \nxCHECKPOINT a\n checkpoint b\nDONE!\nNOT DONE\nCHECKPOINT c");  // last: no newline
    EXPECT_TRUE(frames_.empty());
}

TEST_F(CheckpointTapTest, OverlongLineIsNotACheckpointAndDoesNotGrowWithoutBound) {
    feed("CHECKPOINT " + std::string(100000, 'a') + "\n");
    EXPECT_TRUE(frames_.empty());
    feed("CHECKPOINT after\n");
    ASSERT_EQ(frames_.size(), 1u);
    EXPECT_EQ(frames_[0].name, "after");
}

}  // namespace
}  // namespace qxlbox::app
