// Where the tests find the source tree, the exported test models and the CLI binary.
// Defined in the build directory's generated test_paths.cpp (CMakeLists.txt), not passed as -D
// macros: a path on every test file's command line made each compile depend on where the tree
// was cloned, so a clean clone at a new path (CI) got no ccache hits at all.
#pragma once

namespace evtest {
const char* sourceDir();      // the repository's root
const char* testModelsDir();  // the build's exported TorchScript test models (tests/models/*.py)
const char* cliPath();        // the explain-video binary of this build
}  // namespace evtest
