#pragma once
// A directory of its own under $TMPDIR for one test case, removed with everything in it when
// the case ends (shared by the unit tests of every module).
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace pfo3::test {

struct temp_dir {
    std::filesystem::path path;

    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "pfo3-test-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;  // a case that failed half-way may leave anything behind: best effort
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

}  // namespace pfo3::test
