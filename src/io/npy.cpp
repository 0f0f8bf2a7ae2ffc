#include "explain_video/npy.hpp"

#include <cstring>
#include <fstream>
#include <sstream>

#include "explain_video/error.hpp"

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
  char pre[10];
  if (!in.read(pre, 10) || std::memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] != 1)
    throw Error(ErrorKind::Input, path + ": not a version 1 .npy file");
  const size_t len = static_cast<unsigned char>(pre[8]) | (static_cast<unsigned char>(pre[9]) << 8);
  std::string dict(len, '\0');
  in.read(dict.data(), static_cast<std::streamsize>(len));
  if (dict.find("'<f4'") == std::string::npos || dict.find("'fortran_order': False") == std::string::npos)
    throw Error(ErrorKind::Input, path + ": only little-endian float32 C-order arrays are supported");
  Volume v;
  const size_t open = dict.find('(', dict.find("'shape'")), close = dict.find(')', open);
  std::istringstream dims(dict.substr(open + 1, close - open - 1));
  std::string tok;
  while (std::getline(dims, tok, ','))
    if (tok.find_first_not_of(' ') != std::string::npos) v.shape.push_back(std::stoll(tok));
  v.data.resize(Volume::numel(v.shape));
  if (!in.read(reinterpret_cast<char*>(v.data.data()), static_cast<std::streamsize>(v.data.size() * 4)))
    throw Error(ErrorKind::Input, path + ": truncated .npy data");
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
