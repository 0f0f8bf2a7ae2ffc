// The sanity checks' outputs: the stdout table, sanity.csv, the JSON and the plots.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "explain_video/error.hpp"
#include "explain_video/sanity.hpp"
#include "io/atomic_output.hpp"
#include "io/params_json.hpp"

namespace ev {
namespace {

std::string num(double v) {
  if (std::isnan(v)) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string csvQuote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string joined(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

// What a step did, for tables and plots.
std::string stepLabel(const SanityResult& r, size_t s) {
  if (r.params.mode == SanityMode::Labels) return "random class";
  return s == 0 ? "original" : r.steps[s].layer;
}

nlohmann::json orNull(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

}  // namespace

void writeSanityCsv(const SanityResult& r, const std::string& dir) {
  AtomicOutputDir out(dir);
  std::ostringstream s;
  s << "mode,step,layer,randomised,method,spearman,ssim,topk,windows,undefined\n";
  for (size_t st = 0; st < r.steps.size(); ++st)
    for (size_t mi = 0; mi < r.methods.size(); ++mi) {
      const SanityScore& c = r.steps[st].scores[mi];
      s << sanityModeName(r.params.mode) << "," << st << "," << csvQuote(stepLabel(r, st)) << ","
        << csvQuote(joined(r.steps[st].randomised, ";")) << "," << csvQuote(r.methods[mi]) << "," << num(c.spearman) << ","
        << num(c.ssim) << "," << num(c.topK) << "," << c.windows << "," << c.undefined << "\n";
    }
  {
    std::ofstream f(out.path("sanity.csv"), std::ios::binary);
    f << s.str();
    f.close();
    if (!f) throw Error(ErrorKind::Output, dir + "/sanity.csv: write failed");
  }
  out.commit();
}

void writeSanityPlots(const SanityResult& r, const std::string& dir) {
  if (r.params.mode == SanityMode::Labels) return;
  AtomicOutputDir out(dir);
  std::vector<double> x;
  std::vector<std::string> ticks;
  for (size_t s = 0; s < r.steps.size(); ++s) x.push_back(static_cast<double>(s)), ticks.push_back(stepLabel(r, s));
  const std::string how = r.params.mode == SanityMode::Cascade ? "cascade, top layer first" : "one layer at a time";
  struct Plot {
    const char* file;
    const char* title;
    double SanityScore::*field;
  };
  for (const Plot& pl : {Plot{"sanity_spearman.png", "Spearman", &SanityScore::spearman},
                         Plot{"sanity_ssim.png", "SSIM", &SanityScore::ssim},
                         Plot{"sanity_topk.png", "top-k intersection", &SanityScore::topK}}) {
    std::vector<PlotSeries> series;
    for (size_t mi = 0; mi < r.methods.size(); ++mi) {
      PlotSeries ps{r.methods[mi], {}};
      for (const SanityStep& st : r.steps) ps.y.push_back(st.scores[mi].*(pl.field));
      series.push_back(ps);
    }
    writeLinePlot(out.path(pl.file), std::string(pl.title) + " vs the original maps (" + how + ")",
                  r.params.mode == SanityMode::Cascade ? "randomised down to this layer" : "layer randomised",
                  pl.title, x, series, ticks, 0.0);
  }
  out.commit();
}

void writeSanityJson(const SanityResult& r, const std::string& path) {
  AtomicOutput out(path);
  const SanityParams& sp = r.params;
  nlohmann::json j;
  j["format"] = "explain-video-sanity";
  j["version"] = 1;
  j["mode"] = sanityModeName(sp.mode);
  j["model"] = sp.eval.model;
  j["layer"] = r.targetLayer;
  j["methods"] = r.methods;
  j["model_layers"] = r.layers;
  j["seed"] = sp.seed;
  j["topk_share"] = sp.topK;
  j["reinit"] = "N(m, s^2) per parameter tensor, m and s its own mean and standard deviation (constant tensors kept); buffers kept";
  j["class_source"] = sp.eval.classFromTruth ? "truth" : sp.eval.classSpec.empty() ? "top-1 of mean logits" : "given";
  j["preprocess"] = preprocessJson(sp.eval.preprocess, sp.eval.windows);
  j["n_clips"] = r.clips;
  j["n_windows"] = r.windows;
  j["seconds"] = r.secondsTotal;
  j["warnings"] = r.warnings;
  nlohmann::json steps = nlohmann::json::array();
  for (size_t s = 0; s < r.steps.size(); ++s) {
    nlohmann::json st;
    st["step"] = s;
    st["label"] = stepLabel(r, s);
    st["randomised"] = r.steps[s].randomised;
    nlohmann::json ms = nlohmann::json::object();
    for (size_t mi = 0; mi < r.methods.size(); ++mi) {
      const SanityScore& c = r.steps[s].scores[mi];
      ms[r.methods[mi]] = {{"spearman", orNull(c.spearman)}, {"ssim", orNull(c.ssim)}, {"topk", orNull(c.topK)},
                           {"windows", c.windows}, {"undefined", c.undefined}};
    }
    st["methods"] = ms;
    steps.push_back(st);
  }
  j["steps"] = steps;
  {
    std::ofstream f(out.tempPath(), std::ios::binary);
    f << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    f.close();
    if (!f) throw Error(ErrorKind::Output, path + ": write failed");
  }
  out.commit();
}

std::string formatSanityTable(const SanityResult& r) {
  std::ostringstream o;
  o << "Sanity check (" << sanityModeName(r.params.mode) << "): Spearman / SSIM / top-" << num(100 * r.params.topK)
    << "% intersection with the original maps, mean over " << r.windows << " windows of " << r.clips << " clip"
    << (r.clips == 1 ? "" : "s") << " (layer " << r.targetLayer << ")\n";
  size_t w0 = 12;
  for (size_t s = 0; s < r.steps.size(); ++s) w0 = std::max(w0, stepLabel(r, s).size() + 2);
  char buf[64];
  o << std::string(w0, ' ');
  for (const std::string& m : r.methods) {
    std::snprintf(buf, sizeof buf, "%-20s", m.c_str());
    o << buf;
  }
  o << "\n";
  auto cell = [](double v) { return std::isnan(v) ? std::string("  -  ") : [&] {
    char b[16];
    std::snprintf(b, sizeof b, "%5.2f", v);
    return std::string(b);
  }(); };
  for (size_t s = 0; s < r.steps.size(); ++s) {
    const std::string label = stepLabel(r, s);
    o << label << std::string(w0 - label.size(), ' ');
    for (const SanityScore& c : r.steps[s].scores) {
      const std::string t = cell(c.spearman) + " " + cell(c.ssim) + " " + cell(c.topK);
      std::snprintf(buf, sizeof buf, "%-20s", t.c_str());
      o << buf;
    }
    o << "\n";
  }
  return o.str();
}

}  // namespace ev
