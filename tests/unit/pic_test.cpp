#include "hw/pic/pic.h"

#include <gtest/gtest.h>

using qxlbox::hw::PicPair;

namespace {

// The initialisation a PC kernel does: vectors 0x20 / 0x28, cascade on IRQ2, 8086 mode.
void init_pair(PicPair& pic, bool auto_eoi = false) {
    const std::uint8_t icw4 = auto_eoi ? 0x03 : 0x01;
    pic.write_port(0, 0, 0x11);
    pic.write_port(0, 1, 0x20);
    pic.write_port(0, 1, 0x04);
    pic.write_port(0, 1, icw4);
    pic.write_port(1, 0, 0x11);
    pic.write_port(1, 1, 0x28);
    pic.write_port(1, 1, 0x02);
    pic.write_port(1, 1, icw4);
}

}  // namespace

TEST(Pic, DeliversEdgeRequestWithIcw2Base) {
    PicPair pic;
    init_pair(pic);
    EXPECT_FALSE(pic.intr_pending());
    pic.set_irq_level(1, true);
    ASSERT_TRUE(pic.intr_pending());
    EXPECT_EQ(pic.acknowledge(), 0x21);
    EXPECT_EQ(pic.chip(0).isr, 0x02);
    EXPECT_EQ(pic.chip(0).irr, 0x00);
    EXPECT_FALSE(pic.intr_pending());
}

TEST(Pic, EdgeLineNeedsNewRisingEdge) {
    PicPair pic;
    init_pair(pic);
    pic.set_irq_level(3, true);
    EXPECT_EQ(pic.acknowledge(), 0x23);
    pic.write_port(0, 0, 0x20);  // non-specific EOI
    // Still high, but no new edge: nothing pending.
    pic.set_irq_level(3, true);
    EXPECT_FALSE(pic.intr_pending());
    pic.set_irq_level(3, false);
    pic.set_irq_level(3, true);
    EXPECT_TRUE(pic.intr_pending());
}

TEST(Pic, ImrMasksAndUnmaskingDelivers) {
    PicPair pic;
    init_pair(pic);
    pic.write_port(0, 1, 0x01);  // OCW1: mask IRQ0
    EXPECT_EQ(pic.read_port(0, 1), 0x01);
    pic.set_irq_level(0, true);
    EXPECT_FALSE(pic.intr_pending());
    EXPECT_EQ(pic.read_port(0, 0), 0x01);  // IRR still records it
    pic.write_port(0, 1, 0x00);
    EXPECT_TRUE(pic.intr_pending());
}

TEST(Pic, HigherPriorityInServiceBlocksLowerUntilEoi) {
    PicPair pic;
    init_pair(pic);
    pic.set_irq_level(1, true);
    EXPECT_EQ(pic.acknowledge(), 0x21);
    pic.set_irq_level(5, true);
    EXPECT_FALSE(pic.intr_pending());
    pic.set_irq_level(0, true);  // higher priority nests
    EXPECT_EQ(pic.acknowledge(), 0x20);
    pic.write_port(0, 0, 0x20);  // EOI clears IRQ0 (highest in service)
    EXPECT_EQ(pic.chip(0).isr, 0x02);
    EXPECT_FALSE(pic.intr_pending());
    pic.write_port(0, 0, 0x20);
    EXPECT_EQ(pic.acknowledge(), 0x25);
}

TEST(Pic, SpecificEoiClearsOnlyThatLine) {
    PicPair pic;
    init_pair(pic);
    pic.set_irq_level(1, true);
    pic.acknowledge();
    pic.set_irq_level(0, true);
    pic.acknowledge();
    EXPECT_EQ(pic.chip(0).isr, 0x03);
    pic.write_port(0, 0, 0x61);  // specific EOI, level 1
    EXPECT_EQ(pic.chip(0).isr, 0x01);
    pic.write_port(0, 0, 0x66);  // specific EOI for a line not in service: no effect
    EXPECT_EQ(pic.chip(0).isr, 0x01);
}

TEST(Pic, Ocw3SelectsIsrOrIrrForReads) {
    PicPair pic;
    init_pair(pic);
    pic.set_irq_level(4, true);
    pic.acknowledge();
    pic.set_irq_level(6, true);
    pic.write_port(0, 0, 0x0b);  // read ISR
    EXPECT_EQ(pic.read_port(0, 0), 0x10);
    pic.write_port(0, 0, 0x0a);  // read IRR
    EXPECT_EQ(pic.read_port(0, 0), 0x40);
}

TEST(Pic, CascadeDeliversSlaveVectorAndMarksBothInService) {
    PicPair pic;
    init_pair(pic);
    pic.set_irq_level(10, true);
    ASSERT_TRUE(pic.intr_pending());
    EXPECT_EQ(pic.acknowledge(), 0x2a);
    EXPECT_EQ(pic.chip(0).isr, 0x04);
    EXPECT_EQ(pic.chip(1).isr, 0x04);
    // The cascade input itself is not a device line.
    PicPair other;
    init_pair(other);
    other.set_irq_level(2, true);
    EXPECT_FALSE(other.intr_pending());
}

TEST(Pic, MaskedSlaveLineDoesNotReachMaster) {
    PicPair pic;
    init_pair(pic);
    pic.write_port(1, 1, 0x04);  // mask IRQ10
    pic.set_irq_level(10, true);
    EXPECT_FALSE(pic.intr_pending());
    pic.write_port(1, 1, 0x00);
    EXPECT_TRUE(pic.intr_pending());
}

TEST(Pic, SpuriousIrq7WhenRequestVanishesBeforeAck) {
    PicPair pic;
    init_pair(pic);
    pic.write_elcr(0, 0x20);  // IRQ5 level-triggered
    pic.set_irq_level(5, true);
    EXPECT_TRUE(pic.intr_pending());
    pic.set_irq_level(5, false);  // line drops between INTR and INTA
    EXPECT_EQ(pic.acknowledge(), 0x27);
    EXPECT_EQ(pic.chip(0).isr, 0x00);  // spurious: nothing in service
    EXPECT_EQ(pic.spurious_count(), 1u);
}

TEST(Pic, SpuriousIrq15WhenSlaveRequestVanishes) {
    PicPair pic;
    init_pair(pic);
    pic.write_elcr(1, 0x08);  // IRQ11 level
    pic.set_irq_level(11, true);
    ASSERT_TRUE(pic.intr_pending());  // master latched the cascade edge
    pic.set_irq_level(11, false);     // the device drops the line before INTA
    ASSERT_TRUE(pic.intr_pending());
    EXPECT_EQ(pic.acknowledge(), 0x2f);
    EXPECT_EQ(pic.chip(1).isr, 0x00);
    EXPECT_EQ(pic.chip(0).isr, 0x04);  // the master still put IRQ2 in service
    // A new slave request waits for the master's EOI.
    pic.set_irq_level(11, true);
    EXPECT_FALSE(pic.intr_pending());
    pic.write_port(0, 0, 0x20);
    EXPECT_EQ(pic.acknowledge(), 0x2b);
}

TEST(Pic, SlaveAutoEoiDeliversQueuedRequestsInTurn) {
    PicPair pic;
    init_pair(pic, true);
    pic.set_irq_level(9, true);
    pic.set_irq_level(12, true);
    EXPECT_EQ(pic.acknowledge(), 0x29);
    ASSERT_TRUE(pic.intr_pending());
    EXPECT_EQ(pic.acknowledge(), 0x2c);
    EXPECT_FALSE(pic.intr_pending());
}

TEST(Pic, LevelLineStaysPendingUntilDeviceDropsIt) {
    PicPair pic;
    init_pair(pic);
    pic.write_elcr(1, 0x04);  // IRQ10 level
    pic.set_irq_level(10, true);
    EXPECT_EQ(pic.acknowledge(), 0x2a);
    pic.write_port(1, 0, 0x20);
    pic.write_port(0, 0, 0x20);
    ASSERT_TRUE(pic.intr_pending());  // still asserted: asks again
    EXPECT_EQ(pic.acknowledge(), 0x2a);
    pic.set_irq_level(10, false);  // the handler quiets the device, then EOIs
    pic.write_port(1, 0, 0x20);
    pic.write_port(0, 0, 0x20);
    EXPECT_FALSE(pic.intr_pending());
    EXPECT_EQ(pic.chip(1).irr, 0);
}

TEST(Pic, ElcrIgnoresBitsForLinesThatCannotBeLevel) {
    PicPair pic;
    pic.write_elcr(0, 0xff);
    pic.write_elcr(1, 0xff);
    EXPECT_EQ(pic.read_elcr(0), 0xf8);  // IRQ0-2 are always edge
    EXPECT_EQ(pic.read_elcr(1), 0xde);  // IRQ8 and IRQ13 are always edge
}

TEST(Pic, AutoEoiLeavesNothingInService) {
    PicPair pic;
    init_pair(pic, true);
    pic.set_irq_level(3, true);
    EXPECT_EQ(pic.acknowledge(), 0x23);
    EXPECT_EQ(pic.chip(0).isr, 0);
    pic.set_irq_level(4, true);
    EXPECT_EQ(pic.acknowledge(), 0x24);
}

TEST(Pic, RotateOnEoiMakesServicedLineLowest) {
    PicPair pic;
    init_pair(pic);
    pic.set_irq_level(0, true);
    pic.acknowledge();
    pic.write_port(0, 0, 0xa0);  // rotate on non-specific EOI
    // IRQ0 is now lowest priority: IRQ7 wins over IRQ0.
    pic.set_irq_level(0, false);
    pic.set_irq_level(0, true);
    pic.set_irq_level(7, true);
    EXPECT_EQ(pic.acknowledge(), 0x27);
    EXPECT_EQ(pic.chip(0).isr, 0x80);
}

TEST(Pic, PollModeReturnsAndServicesHighestRequest) {
    PicPair pic;
    init_pair(pic);
    pic.write_port(0, 0, 0x0c);  // OCW3 poll
    EXPECT_EQ(pic.read_port(0, 0), 0x00);  // nothing pending
    pic.set_irq_level(6, true);
    pic.write_port(0, 0, 0x0c);
    EXPECT_EQ(pic.read_port(0, 0), 0x86);
    EXPECT_EQ(pic.chip(0).isr, 0x40);
    // Only the read right after the poll command is a poll.
    EXPECT_EQ(pic.read_port(0, 0), 0x00);
}

TEST(Pic, SpecialMaskModeLetsLowerPriorityThrough) {
    PicPair pic;
    init_pair(pic);
    pic.set_irq_level(1, true);
    pic.acknowledge();
    pic.set_irq_level(5, true);
    EXPECT_FALSE(pic.intr_pending());
    pic.write_port(0, 1, 0x02);  // mask the in-service line
    pic.write_port(0, 0, 0x68);  // OCW3: set special mask mode
    EXPECT_TRUE(pic.intr_pending());
    pic.write_port(0, 0, 0x48);  // reset special mask mode
    EXPECT_FALSE(pic.intr_pending());
}

TEST(Pic, Icw1ResetsMaskAndInServiceState) {
    PicPair pic;
    init_pair(pic);
    pic.write_port(0, 1, 0xff);
    pic.set_irq_level(4, true);
    pic.write_port(0, 1, 0x00);
    pic.acknowledge();
    pic.write_port(0, 0, 0x11);
    EXPECT_EQ(pic.chip(0).imr, 0);
    EXPECT_EQ(pic.chip(0).isr, 0);
    EXPECT_EQ(pic.chip(0).init_step, 2);
    // During initialisation a data write is ICW2, not a mask.
    pic.write_port(0, 1, 0x48);
    EXPECT_EQ(pic.chip(0).imr, 0);
    EXPECT_EQ(pic.chip(0).vector_base, 0x48);
}

TEST(Pic, OutOfRangeLinesAreIgnored) {
    PicPair pic;
    init_pair(pic);
    pic.set_irq_level(16, true);
    pic.set_irq_level(1000, true);
    EXPECT_FALSE(pic.intr_pending());
    EXPECT_EQ(pic.chip(0).irr, 0);
    EXPECT_EQ(pic.chip(1).irr, 0);
}

TEST(Pic, RegistersItsPortsOnce) {
    qxlbox::machine::PortSpace ports;
    PicPair pic;
    ASSERT_TRUE(pic.attach(ports));
    ports.out(0x20, 1, 0x11);
    ports.out(0x21, 1, 0x30);
    ports.out(0x21, 1, 0x04);
    ports.out(0x21, 1, 0x01);
    ports.out(0x21, 1, 0xfe);
    EXPECT_EQ(ports.in(0x21, 1), 0xfeu);
    EXPECT_EQ(pic.chip(0).vector_base, 0x30);
    ports.out(0x4d1, 1, 0x0c);
    EXPECT_EQ(ports.in(0x4d1, 1), 0x0cu);
    PicPair second;
    EXPECT_FALSE(second.attach(ports));
}
