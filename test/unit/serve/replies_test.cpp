// The reply line of each publish outcome, and the error code the request counter reads back
// from a reply line.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "pfo3/json/protocol.hpp"
#include "replies.hpp"

using pfo3::request_error;
using pfo3::queue::publish_outcome;
using pfo3::serve::error_of;
using pfo3::serve::publish_answer;

TEST_CASE("a confirmed publish is accepted under the task's id") {
    CHECK(publish_answer(publish_outcome::confirmed, "t-1") == pfo3::json::encode_accepted("t-1"));
    CHECK(error_of(publish_answer(publish_outcome::confirmed, "t-1")) == std::nullopt);
}

TEST_CASE("every other publish outcome says the task was not accepted, with its id") {
    struct row {
        publish_outcome o;
        request_error code;
        const char* says;
    };
    for (auto [o, code, says] : {row{publish_outcome::nacked, request_error::unavailable, "NOT accepted"},
                                 row{publish_outcome::unroutable, request_error::unavailable, "does not exist"},
                                 row{publish_outcome::overloaded, request_error::overloaded, ""},
                                 row{publish_outcome::unavailable, request_error::unavailable, ""}}) {
        const std::string line = publish_answer(o, "t-2");
        INFO(line);
        CHECK_THAT(line, Catch::StartsWith("{\"ok\":false") && Catch::Contains("\"t-2\"") && Catch::Contains(says));
        CHECK(error_of(line) == code);
    }
}

TEST_CASE("error_of reads the code of serve's status and cancel refusals") {
    for (auto code : {request_error::bad_request, request_error::not_found, request_error::too_late,
                      request_error::overloaded, request_error::bad_json, request_error::unauthorized}) {
        const std::string line = pfo3::json::encode_rejected(code, "no", "t-3");
        INFO(line);
        CHECK(error_of(line) == code);
    }
}

TEST_CASE("error_of counts an answer it cannot read as unavailable") {
    CHECK(error_of("{\"ok\":false,\"error\":{\"code\":\"something_new\"}}") == request_error::unavailable);
    CHECK(error_of("") == request_error::unavailable);
}
