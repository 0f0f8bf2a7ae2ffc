// Localisation scores against hand-computed cases on tiny maps.
#include <gtest/gtest.h>

#include <vector>

#include "explain_video/localization.hpp"

namespace {
// 4×3 map, row-major.
const float kMap[12] = {0, 1, 0, 0,   //
                        0, 4, 2, 0,   //
                        0, 0, 0, 1};  // total 8
}  // namespace

TEST(Localization, PointingGame) {
  EXPECT_TRUE(ev::pointingHit(kMap, 4, 3, ev::Box{1, 1, 1, 1}));   // the 4 at (1,1)
  EXPECT_FALSE(ev::pointingHit(kMap, 4, 3, ev::Box{2, 0, 2, 3}));  // right half misses it
  const float zero[4] = {0, 0, 0, 0};
  EXPECT_FALSE(ev::pointingHit(zero, 2, 2, ev::Box{0, 0, 2, 2}));  // no heat, no hit
  const float tie[4] = {3, 0, 0, 3};  // first maximum in row-major order counts
  EXPECT_TRUE(ev::pointingHit(tie, 2, 2, ev::Box{0, 0, 1, 1}));
  EXPECT_FALSE(ev::pointingHit(tie, 2, 2, ev::Box{1, 1, 1, 1}));
}

TEST(Localization, HeatShareAndMean) {
  EXPECT_DOUBLE_EQ(ev::heatShareInBox(kMap, 4, 3, ev::Box{1, 0, 2, 2}), 7.0 / 8.0);  // 1 + 4 + 2
  EXPECT_DOUBLE_EQ(ev::heatShareInBox(kMap, 4, 3, ev::Box{0, 0, 4, 3}), 1.0);
  EXPECT_DOUBLE_EQ(ev::heatShareInBox(kMap, 4, 3, ev::Box{0, 2, 1, 1}), 0.0);
  EXPECT_DOUBLE_EQ(ev::meanHeat(kMap, 4, 3), 8.0 / 12.0);
}

TEST(Localization, ThresholdIoU) {
  // Threshold 0.5 of max 4 → {4, 2}: pixels (1,1), (2,1). Box (1,1,2,1) is exactly them.
  EXPECT_DOUBLE_EQ(ev::thresholdIoU(kMap, 4, 3, ev::Box{1, 1, 2, 1}, 0.5), 1.0);
  // Box (1,0,1,2) = (1,0), (1,1): intersection 1, union 3.
  EXPECT_DOUBLE_EQ(ev::thresholdIoU(kMap, 4, 3, ev::Box{1, 0, 1, 2}, 0.5), 1.0 / 3.0);
  // Threshold 0.2 → {1, 4, 2, 1} (>= 0.8): four pixels; box of 12 pixels holds them all → 4/12.
  EXPECT_DOUBLE_EQ(ev::thresholdIoU(kMap, 4, 3, ev::Box{0, 0, 4, 3}, 0.2), 4.0 / 12.0);
}

TEST(Localization, DilateClipsToTheFrame) {
  const ev::Box d = ev::dilateBox(ev::Box{2, 2, 3, 3}, 4, 1, 8, 6);
  EXPECT_EQ(d, (ev::Box{0, 1, 8, 5}));  // x: [2-4, 2+3+4) clipped to [0, 8)
  EXPECT_TRUE(ev::dilateBox(ev::Box{}, 4, 4, 8, 8).empty());
}

// Several instances: local maxima above a share of the peak inside grown boxes, and the heat in
// each instance's own box. 6×4 map, maxima 4 at (1,1), 2 at (4,1), 1 at (3,3).
TEST(Localization, InstancesFoundByLocalMaxima) {
  const float m[24] = {0, 0, 0, 0, 0, 0,   //
                       0, 4, 0, 0, 2, 0,   //
                       0, 0, 0, 0, 0, 0,   //
                       0, 0, 0, 1, 0, 0};  //
  const std::vector<ev::Box> boxes{{0, 0, 3, 3}, {3, 0, 3, 3}, {2, 3, 2, 1}};
  ev::InstanceScores s = ev::scoreInstances(m, 6, 4, boxes, 0.5, 0, 0);  // maxima >= 2: the 4 and the 2
  EXPECT_EQ(s.found, (std::vector<bool>{true, true, false}));
  EXPECT_EQ(s.heat, (std::vector<double>{4, 2, 1}));
  s = ev::scoreInstances(m, 6, 4, boxes, 0.6, 0, 0);  // >= 2.4: only the 4
  EXPECT_EQ(s.found, (std::vector<bool>{true, false, false}));
  s = ev::scoreInstances(m, 6, 4, boxes, 0.25, 0, 0);  // >= 1: all three
  EXPECT_EQ(s.found, (std::vector<bool>{true, true, true}));
  // The growth: a box at (0,3) reaches the 4 at (1,1) with a margin of 2, not of 1.
  EXPECT_FALSE(ev::scoreInstances(m, 6, 4, {{0, 3, 1, 1}}, 0.5, 1, 1).found[0]);
  EXPECT_TRUE(ev::scoreInstances(m, 6, 4, {{0, 3, 1, 1}}, 0.5, 2, 2).found[0]);
  // A pixel below a neighbour is no maximum even above the threshold; a plateau's pixels all are.
  const float slope[4] = {3, 4, 0, 0};
  EXPECT_EQ(ev::scoreInstances(slope, 4, 1, {{0, 0, 1, 1}, {1, 0, 1, 1}}, 0.5, 0, 0).found, (std::vector<bool>{false, true}));
  const float plateau[4] = {3, 3, 0, 0};
  EXPECT_EQ(ev::scoreInstances(plateau, 4, 1, {{0, 0, 1, 1}, {1, 0, 1, 1}}, 0.5, 0, 0).found, (std::vector<bool>{true, true}));
  const float zero[4] = {0, 0, 0, 0};
  EXPECT_EQ(ev::scoreInstances(zero, 2, 2, {{0, 0, 2, 2}}, 0.5, 0, 0).found, (std::vector<bool>{false}));
}

TEST(Localization, GiniByHand) {
  EXPECT_DOUBLE_EQ(ev::gini({1, 1}), 0.0);
  EXPECT_DOUBLE_EQ(ev::gini({2, 0}), 0.5);          // (n-1)/n: all on one of two
  EXPECT_DOUBLE_EQ(ev::gini({3, 1}), 0.25);         // 2·|3-1| / (2·2·4)
  EXPECT_DOUBLE_EQ(ev::gini({1, 2, 3}), 8.0 / 36);  // 2·(1+2+1) / (2·3·6)
  EXPECT_DOUBLE_EQ(ev::gini({0, 0, 5}), 2.0 / 3);
  EXPECT_DOUBLE_EQ(ev::gini({0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(ev::gini({5}), 0.0);
}
