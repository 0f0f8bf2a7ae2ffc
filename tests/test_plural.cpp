// ev::plural: a count and its noun in messages ("1 window", "2 windows").
#include <gtest/gtest.h>

#include <cstdint>

#include "util/plural.hpp"

TEST(Plural, OneIsSingularEveryOtherCountPlural) {
  EXPECT_EQ(ev::plural(1, "window"), "1 window");
  EXPECT_EQ(ev::plural(2, "window"), "2 windows");
  EXPECT_EQ(ev::plural(0, "window"), "0 windows");
  EXPECT_EQ(ev::plural(-1, "window"), "-1 windows");
  EXPECT_EQ(ev::plural(size_t{1}, "frame"), "1 frame");
  EXPECT_EQ(ev::plural(int64_t{48}, "frame"), "48 frames");
}

TEST(Plural, SibilantsTakeEs) {
  EXPECT_EQ(ev::plural(1, "class"), "1 class");
  EXPECT_EQ(ev::plural(3, "class"), "3 classes");
  EXPECT_EQ(ev::plural(2, "forward pass"), "2 forward passes");
  EXPECT_EQ(ev::plural(2, "box"), "2 boxes");
  EXPECT_EQ(ev::plural(2, "batch"), "2 batches");
  EXPECT_EQ(ev::plural(2, "mesh"), "2 meshes");
}

TEST(Plural, IrregularFormsAndTheNounAlone) {
  EXPECT_EQ(ev::plural(2, "child", "children"), "2 children");
  EXPECT_EQ(ev::plural(1, "child", "children"), "1 child");
  EXPECT_EQ(ev::pluralNoun(1, "shard"), "shard");
  EXPECT_EQ(ev::pluralNoun(4, "shard"), "shards");
}
