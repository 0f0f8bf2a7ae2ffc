// Scratch files of a run (the window store, a copied input stream): unnamed files in $TMPDIR
// (default /tmp), so nothing is left behind, not even by SIGKILL.
#pragma once
#include <string>

namespace ev {

std::string tempDir();  // $TMPDIR, or /tmp
// An unlinked file in `dir`, open for reading and writing (O_TMPFILE where the file system has
// it, else mkstemp + unlink); -1 with errno set on failure.
int anonymousTempFile(const std::string& dir);

}  // namespace ev
