// Board assembly (placeholder until the board issue lands).
#pragma once
namespace qxlbox::machine {
int board_placeholder();
}
