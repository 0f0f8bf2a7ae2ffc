#include "explain_video/npy.hpp"

#include <cstring>
#include <limits>
#include <fstream>
#include <sstream>

#include "explain_video/error.hpp"
#include "io/npy_read.hpp"

namespace ev {
namespace {

std::string npyHeader(const std::vector<int64_t>& shape) {
  std::ostringstream dict;
  dict << "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict << shape[i] << (shape.size() == 1 || i + 1 < shape.size() ? ", " : "");
  dict << "), }";
  std::string d = dict.str();
  // Magic (6) + version (2) + header length (2) + dict, padded with spaces to a multiple of
  // 64 bytes and ended by a newline.
  const size_t unpadded = 10 + d.size() + 1;
  d.append((64 - unpadded % 64) % 64, ' ');
  d.push_back('\n');
  std::string h("\x93NUMPY\x01\x00", 8);
  h.push_back(static_cast<char>(d.size() & 0xff));
  h.push_back(static_cast<char>((d.size() >> 8) & 0xff));
  return h + d;
}

std::FILE* openForWrite(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw Error(ErrorKind::Output, path + ": cannot create file (" + std::strerror(errno) + ")");
  return f;
}

}  // namespace

void writeNpy(const std::string& path, const Volume& v) {
  NpyStreamWriter w(path, v.shape);
  w.append(v.ptr(), v.size());
  w.close();
}

Volume readNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::Input, path + ": cannot open");
  return readNpy(in, path);
}

Volume readNpy(std::istream& in, const std::string& path) {
  auto bad = [&](const std::string& why) { return Error(ErrorKind::Input, path + ": " + why); };
  char pre[10];
  if (!in.read(pre, 10) || std::memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] != 1) throw bad("not a version 1 .npy file");
  const size_t len = static_cast<unsigned char>(pre[8]) | (static_cast<unsigned char>(pre[9]) << 8);
  std::string dict(len, '\0');
  if (!in.read(dict.data(), static_cast<std::streamsize>(len))) throw bad("truncated .npy header");
  // The header dict's value for `key`, from its first character on ("" without the key).
  auto value = [&](const char* key) -> std::string {
    size_t at = dict.find(key);
    if (at == std::string::npos) return "";
    at = dict.find_first_not_of(' ', at + std::strlen(key));
    return at == std::string::npos ? "" : dict.substr(at);
  };
  if (value("'descr':").rfind("'<f4'", 0) != 0 || value("'fortran_order':").rfind("False", 0) != 0)
    throw bad("only little-endian float32 C-order arrays are supported");
  const std::string shape = value("'shape':");
  const size_t close = shape.find(')');
  if (shape.empty() || shape[0] != '(' || close == std::string::npos) throw bad("no shape in the .npy header");
  Volume v;
  std::istringstream dims(shape.substr(1, close - 1));
  size_t count = 1;
  bool overflow = false;
  for (std::string tok; std::getline(dims, tok, ',');) {
    const size_t a = tok.find_first_not_of(' '), b = tok.find_last_not_of(' ');
    if (a == std::string::npos) continue;  // "(3,)" or "()"
    const std::string digits = tok.substr(a, b - a + 1);
    if (digits.size() > 15 || digits.find_first_not_of("0123456789") != std::string::npos)
      throw bad("bad dimension '" + digits + "' in the .npy shape");
    v.shape.push_back(std::stoll(digits));
    overflow = overflow || __builtin_mul_overflow(count, static_cast<size_t>(v.shape.back()), &count);
  }
  // Checked against what the stream holds before anything is allocated.
  std::streamoff left = std::numeric_limits<std::streamoff>::max();  // a stream that cannot seek
  const std::streampos here = in.tellg();
  if (here != std::streampos(-1) && in.seekg(0, std::ios::end)) {
    const std::streampos end = in.tellg();
    if (end != std::streampos(-1)) left = end - here;
    in.seekg(here);
  }
  in.clear();
  if (overflow || count > static_cast<size_t>(left) / sizeof(float))
    throw bad("truncated .npy data (the shape holds more values than the file)");
  v.data.resize(count);
  if (!in.read(reinterpret_cast<char*>(v.data.data()), static_cast<std::streamsize>(v.data.size() * 4)))
    throw bad("truncated .npy data");
  return v;
}

NpyStreamWriter::NpyStreamWriter(const std::string& path, const std::vector<int64_t>& shape)
    : path_(path), file_(openForWrite(path)), expected_(Volume::numel(shape)) {
  const std::string h = npyHeader(shape);
  if (std::fwrite(h.data(), 1, h.size(), file_) != h.size())
    throw Error(ErrorKind::Output, path + ": write failed");
}

NpyStreamWriter::~NpyStreamWriter() {
  if (file_) std::fclose(file_);
}

void NpyStreamWriter::append(const float* data, size_t count) {
  static_assert(sizeof(float) == 4, "float32 expected");
  if (written_ + count > expected_) throw Error(ErrorKind::Internal, path_ + ": more data than the .npy shape holds");
  if (std::fwrite(data, sizeof(float), count, file_) != count)
    throw Error(ErrorKind::Output, path_ + ": write failed (" + std::strerror(errno) + ")");
  written_ += count;
}

void NpyStreamWriter::close() {
  if (!file_) return;
  const bool complete = written_ == expected_;
  const bool ok = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!complete) throw Error(ErrorKind::Internal, path_ + ": .npy closed with missing data");
  if (!ok) throw Error(ErrorKind::Output, path_ + ": write failed");
}

}  // namespace ev
