// The architectures users bring, end to end through the CLI: torchvision's r3d_18, mc3_18 and
// r2plus1d_18 (scripts/export_torchvision.py) and C3D converted from a c3d-pytorch state_dict
// (scripts/convert_c3d_pytorch.py), scripted and traced, with random weights at small sizes;
// the --preset, --labels and --output options; the shipped label files; unsupported models.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli_runner.hpp"
#include "explain_video/windows.hpp"
#include "scratch_dir.hpp"
#include "synthetic_clip.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;

namespace {

std::string quote(const std::string& s) { return evtest::shellQuote(s); }

std::string model(const std::string& name) { return quote(std::string(evtest::testModelsDir()) + "/" + name); }
std::string source(const std::string& rel) { return std::string(evtest::sourceDir()) + "/" + rel; }

evtest::CliRun run(const evtest::ScratchDir& dir, const std::string& args) {
  return evtest::runCli(args, dir.file("stderr.txt"));
}

// A 20-frame 320×240 clip with a moving red square.
std::string clip(const evtest::ScratchDir& dir) {
  evtest::SquareClip spec;
  spec.frames = 20, spec.presentFrom = 4, spec.presentTo = 16;
  const std::string path = dir.file("clip.mp4");
  evtest::writeSquareClip(path, spec);
  return path;
}

nlohmann::json readJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

int lineCount(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

struct Arch {
  const char* base;    // tests/models/zoo_models.py name
  const char* args;    // window/preprocessing options for a quick run
  const char* labels;  // the label file its class count matches
  const char* layer;   // expected default layer
};

const Arch kArchs[] = {
    {"zoo_r3d_18", "--preset kinetics --clip-len 8 --stride 6 --resize 36x48 --crop 32x32",
     "models/kinetics400_labels.txt", "layer4.1.relu"},
    {"zoo_mc3_18", "--preset kinetics --clip-len 8 --stride 6 --resize 36x48 --crop 32x32",
     "models/kinetics400_labels.txt", "layer4.1.relu"},
    {"zoo_r2plus1d_18", "--preset kinetics --clip-len 8 --stride 6 --resize 36x48 --crop 32x32",
     "models/kinetics400_labels.txt", "layer4.1.relu"},
    {"zoo_c3d", "--preset c3d-sports1m --stride 8", "models/sports1m_labels.txt", "pool5"},
};

class ZooCli : public ::testing::TestWithParam<std::tuple<int, const char*>> {};

TEST_P(ZooCli, ExplainsAClipEndToEnd) {
  const Arch& a = kArchs[std::get<0>(GetParam())];
  const std::string pt = std::string(a.base) + std::get<1>(GetParam());
  evtest::ScratchDir dir("ev_zoo_");
  const std::string in = clip(dir), out = dir.file("out.mp4"), json = dir.file("out.json");
  const auto r = run(dir, quote(in) + " --model " + model(pt) + " " + a.args + " --labels " +
                              quote(source(a.labels)) + " --out " + quote(out) + " --json " + quote(json) + " --quiet");
  ASSERT_EQ(r.code, 0) << pt << ": " << r.err;
  EXPECT_EQ(r.out, out + "\n");
  ASSERT_TRUE(fs::exists(out));
  EXPECT_GT(fs::file_size(out), 1000u);
  const auto j = readJson(json);
  EXPECT_EQ(j["layer"], a.layer);
  // Every zoo architecture's path to its default layer is made of ops whose geometry is known.
  EXPECT_TRUE(j["cell_centres"]["known"].get<bool>()) << j["cell_centres"].dump();
  EXPECT_EQ(j["video"]["frames"], 20);
  // The class name comes from the shipped label file, at the class id's line.
  const auto labels = readLines(source(a.labels));
  const int cls = j["class"]["id"];
  ASSERT_GE(cls, 0);
  ASSERT_LT(cls, static_cast<int>(labels.size()));
  EXPECT_EQ(j["class"]["name"], labels[cls]);
  EXPECT_NE(r.err.find("'" + labels[cls] + "'"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Archs, ZooCli, ::testing::Combine(::testing::Range(0, 4), ::testing::Values("_scripted.pt", "_traced.pt")),
                         [](const auto& info) {
                           std::string n = std::string(kArchs[std::get<0>(info.param)].base).substr(4) +
                                           (std::string(std::get<1>(info.param)) == "_traced.pt" ? "_traced" : "_scripted");
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

// --list-layers of a residual model: every block with its output shape, the default marked.
TEST(ZooCliLayers, ListLayersOfR3D) {
  evtest::ScratchDir dir("ev_zoo_");
  const auto r = run(dir, "--list-layers --model " + model("zoo_r3d_18_traced.pt") +
                              " --preset kinetics --clip-len 8 --crop 32x32");
  ASSERT_EQ(r.code, 0) << r.err;
  std::map<std::string, std::pair<std::string, std::string>> rows;  // name -> (type, rest)
  for (std::istringstream in(r.out); !in.eof();) {
    std::string line, name, type, rest;
    std::getline(in, line);
    std::istringstream ls(line);
    ls >> name >> type;
    std::getline(ls, rest);
    rest.erase(0, rest.find_first_not_of(' '));
    if (!name.empty()) rows[name] = {type, rest};
  }
  EXPECT_NE(r.out.find("input 1x3x8x32x32"), std::string::npos) << r.out;
  EXPECT_EQ(rows["stem"], std::make_pair(std::string("BasicStem"), std::string("1x64x8x16x16")));
  EXPECT_EQ(rows["stem.0"].first, "Conv3d");
  EXPECT_EQ(rows["layer1"].second, "1x64x8x16x16");
  EXPECT_EQ(rows["layer2"].second, "1x128x4x8x8");
  EXPECT_EQ(rows["layer3.0.downsample.0"], std::make_pair(std::string("Conv3d"), std::string("1x256x2x4x4")));
  EXPECT_EQ(rows["layer4"], std::make_pair(std::string("Sequential"), std::string("1x512x1x2x2")));
  EXPECT_EQ(rows["layer4.1"], std::make_pair(std::string("BasicBlock"), std::string("1x512x1x2x2")));
  EXPECT_EQ(rows["layer4.1.relu"], std::make_pair(std::string("ReLU"), std::string("1x512x1x2x2   <- default layer")));
  // Forward order: the stem first, the head last, each block before its children.
  EXPECT_LT(r.out.find("\nstem "), r.out.find("\nlayer1 "));
  EXPECT_LT(r.out.find("\nlayer4 "), r.out.find("\nlayer4.0 "));
  EXPECT_LT(r.out.find("\nlayer4.1.relu "), r.out.find("\navgpool "));
  EXPECT_LT(r.out.find("\navgpool "), r.out.find("\nfc "));
  EXPECT_EQ(rows["layer4.1.conv2.0"], std::make_pair(std::string("Conv3DSimple"), std::string("1x512x1x2x2")));
  EXPECT_EQ(rows["avgpool"], std::make_pair(std::string("AdaptiveAvgPool3d"), std::string("1x512x1x1x1")));
  EXPECT_EQ(rows["fc"], std::make_pair(std::string("Linear"), std::string("1x400")));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '<'), 1) << "one default layer";
}

// --preset sets the preprocessing; explicit flags override it; the JSON records the result.
TEST(ZooCliPresets, PresetsAndOverrides) {
  evtest::ScratchDir dir("ev_zoo_");
  const std::string in = clip(dir);
  const std::string base = quote(in) + " --model " + model("zoo_r3d_18_scripted.pt") + " --quiet --clip-len 8";
  {
    const auto r = run(dir, base + " --preset c3d-sports1m --crop 32x32 --resize 40x71 --out " + quote(dir.file("a.mp4")) +
                                " --json " + quote(dir.file("a.json")));
    ASSERT_EQ(r.code, 0) << r.err;
    const auto p = readJson(dir.file("a.json"))["preprocess"];
    EXPECT_EQ(p["resize"], nlohmann::json({40, 71}));  // flags win over the preset
    EXPECT_EQ(p["crop"], nlohmann::json({32, 32}));
    EXPECT_EQ(p["scale"], 1.0);                         // from the preset
    EXPECT_EQ(p["mean"], nlohmann::json({0.0, 0.0, 0.0}));
    EXPECT_EQ(p["std"], nlohmann::json({1.0, 1.0, 1.0}));
    EXPECT_EQ(p["channel_order"], "RGB");
  }
  {
    const auto r = run(dir, base + " --preset kinetics --crop 32x32 --resize 36x48 --scale 1/127.5 --mean 0.5,0.5,0.5 --bgr"
                                " --out " + quote(dir.file("b.mp4")) + " --json " + quote(dir.file("b.json")));
    ASSERT_EQ(r.code, 0) << r.err;
    const auto p = readJson(dir.file("b.json"))["preprocess"];
    EXPECT_NEAR(p["scale"].get<double>(), 1 / 127.5, 1e-7);
    EXPECT_EQ(p["mean"], nlohmann::json({0.5, 0.5, 0.5}));
    EXPECT_NEAR(p["std"][0].get<double>(), 0.22803, 1e-6);  // from the preset
    EXPECT_EQ(p["channel_order"], "BGR");
  }
  for (const auto& [args, phrases] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {" --preset imagenet", {"--preset 'imagenet': unknown preset", "kinetics, c3d-sports1m"}},
           {" --preset kinetics --scale 0", {"--scale '0'"}},
           {" --preset kinetics --scale 1/x", {"--scale '1/x'"}}}) {
    const auto r = run(dir, base + args + " --out " + quote(dir.file("never.mp4")));
    EXPECT_EQ(r.code, 2) << args << r.err;
    EXPECT_EQ(lineCount(r.err), 1) << r.err;
    for (const auto& ph : phrases) EXPECT_NE(r.err.find(ph), std::string::npos) << ph << " not in " << r.err;
    EXPECT_FALSE(fs::exists(dir.file("never.mp4")));
  }
}

TEST(ZooPresets, KineticsIsTheDefaultPreprocessing) {
  const ev::PreprocessParams d, k = ev::preprocessPreset("kinetics"), c = ev::preprocessPreset("c3d-sports1m");
  EXPECT_EQ(k.resizeHeight, d.resizeHeight);
  EXPECT_EQ(k.resizeWidth, d.resizeWidth);
  EXPECT_EQ(k.cropHeight, d.cropHeight);
  EXPECT_EQ(k.scale, d.scale);
  EXPECT_EQ(k.mean, d.mean);
  EXPECT_EQ(k.std, d.std);
  EXPECT_EQ(k.bgr, d.bgr);
  EXPECT_EQ(c.resizeHeight, 112);
  EXPECT_EQ(c.resizeWidth, 200);
  EXPECT_EQ(c.cropWidth, 112);
  EXPECT_EQ(c.scale, 1.0f);
  EXPECT_EQ(ev::preprocessPresetNames(), (std::vector<std::string>{"kinetics", "c3d-sports1m"}));
}

// --output picks the logits of a model returning a dict; errors name what forward() returns.
TEST(ZooCliOutput, DictOutputNeedsOutputFlag) {
  evtest::ScratchDir dir("ev_zoo_");
  const std::string in = clip(dir);
  const std::string base = quote(in) + " --model " + model("dict_out_traced.pt") +
                           " --clip-len 8 --resize 36x48 --crop 32x32 --quiet --out " + quote(dir.file("o.mp4"));
  auto r = run(dir, base);
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(lineCount(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("forward() output is 5D"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("choose the logits with --output"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("o.mp4")));
  r = run(dir, base + " --output scores");
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_NE(r.err.find("dict with keys features, logits"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("o.mp4")));
  r = run(dir, base + " --output logits --json " + quote(dir.file("o.json")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir.file("o.mp4")));
  const auto j = readJson(dir.file("o.json"));
  EXPECT_EQ(j["model_output"], "logits");
  EXPECT_EQ(j["layer"], "relu");
  EXPECT_EQ(j["windows"][0]["logits"].size(), 5u);
}

TEST(ZooCliUnsupported, ClearErrors) {
  evtest::ScratchDir dir("ev_zoo_");
  const std::string in = clip(dir);
  const std::string opts = " --clip-len 8 --resize 36x48 --crop 32x32 --quiet --out " + quote(dir.file("u.mp4"));
  for (const auto& [pt, phrase] : std::vector<std::pair<std::string, std::string>>{
           {"two_pathway_traced.pt", "SlowFast"},
           {"image2d_scripted.pt", "4D images"},
           {"tokens_scripted.pt", "transformer"}}) {
    const auto r = run(dir, quote(in) + " --model " + model(pt) + opts);
    EXPECT_EQ(r.code, 4) << pt << r.err;
    EXPECT_EQ(lineCount(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(pt), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(phrase), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("3D convolutional layers"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir.file("u.mp4")));
  }
}

// The shipped label files: the right number of distinct, non-empty names in the datasets' order.
TEST(LabelFiles, KineticsUcfSports1M) {
  struct L {
    const char* file;
    size_t count;
    std::vector<std::pair<size_t, std::string>> spots;
  };
  for (const L& l : {L{"models/kinetics400_labels.txt", 400, {{0, "abseiling"}, {399, "zumba"}}},
                     L{"models/ucf101_labels.txt", 101, {{0, "ApplyEyeMakeup"}, {34, "Hammering"}, {100, "YoYo"}}},
                     L{"models/sports1m_labels.txt", 487, {{0, "boomerang"}, {367, "basketball"}, {486, "model aircraft"}}}}) {
    SCOPED_TRACE(l.file);
    const auto lines = readLines(source(l.file));
    EXPECT_EQ(lines.size(), l.count);
    EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), lines.size()) << "duplicate names";
    for (const auto& s : lines) {
      EXPECT_FALSE(s.empty());
      EXPECT_EQ(s.find_first_of("\r\t"), std::string::npos) << s;
      EXPECT_NE(s.back(), ' ') << s;
    }
    for (const auto& [i, name] : l.spots) {
      ASSERT_LT(i, lines.size());
      EXPECT_EQ(lines[i], name);
    }
  }
}

}  // namespace
