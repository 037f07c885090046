// serve's dead-letter answers: what the desk says when the broker cannot be reached or too
// many requests wait, and that every answer reads back as what it was made from. The desk
// against a real broker is covered by test/integration/test_dead.py.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <string>

#include "pfo3/core/error.hpp"
#include "pfo3/json/response.hpp"
#include "pfo3/serve/dead_letter_desk.hpp"
#include "pfo3/serve/dead_letter_replies.hpp"

using namespace pfo3;

namespace {

json::request dead_request(json::op kind) {
    json::request r;
    r.kind = kind;
    r.all = true;
    r.limit = 10;
    return r;
}

std::string answer_of(serve::dead_letter_desk& desk, json::op kind) {
    std::promise<std::string> p;
    auto f = p.get_future();
    desk.handle(dead_request(kind), [&p](std::string line) { p.set_value(std::move(line)); });
    REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    return f.get();
}

}  // namespace

TEST_CASE("a broker that cannot be reached answers unavailable, and the next request tries the next URL",
          "[dead_letter_desk]") {
    std::size_t calls = 0, last_attempt = 99;
    serve::dead_letter_desk desk(
        [&](std::size_t attempt) -> std::unique_ptr<queue::dead_letters> {
            ++calls;
            last_attempt = attempt;
            throw service_error("connect to 127.0.0.1:1: refused", true);
        },
        4);
    for (auto kind : {json::op::dead_list, json::op::dead_requeue}) {
        auto r = json::decode_response(answer_of(desk, kind));
        REQUIRE(r);
        CHECK_FALSE(r->ok);
        CHECK(r->error == "unavailable");
    }
    CHECK(calls == 2);
    CHECK(last_attempt == 1);
}

TEST_CASE("past max_waiting a dead-letter request is answered overloaded at once", "[dead_letter_desk]") {
    // Before the desk: its thread answers into them until the desk is gone.
    std::promise<void> release, entered;
    std::promise<std::string> first, second;
    std::atomic<int> opens{0};
    auto released = release.get_future().share();
    serve::dead_letter_desk desk(
        [released, &entered, &opens](std::size_t) -> std::unique_ptr<queue::dead_letters> {
            if (opens++ == 0) entered.set_value();
            released.wait();  // holds the desk's thread
            throw service_error("down", true);
        },
        1);
    desk.handle(dead_request(json::op::dead_list), [&](std::string l) { first.set_value(std::move(l)); });
    entered.get_future().wait();
    desk.handle(dead_request(json::op::dead_list), [&](std::string l) { second.set_value(std::move(l)); });  // waits
    CHECK_THAT(answer_of(desk, json::op::dead_purge), Catch::Contains("\"overloaded\""));
    release.set_value();
    CHECK_THAT(first.get_future().get(), Catch::Contains("\"unavailable\""));
    CHECK_THAT(second.get_future().get(), Catch::Contains("\"unavailable\""));
}

TEST_CASE("a listing answer reads back as the listing", "[dead_letter_desk]") {
    queue::listing_builder b({0, 8, SIZE_MAX});
    b.add(R"({"id":"a1","type":"echo","attempt":2,"error":"tab\there","submitted_at":"2024-05-01T10:00:00Z"})", "", "");
    b.add("not json \xff", "m-2", "");
    const auto l = b.take(7);
    const std::string line = serve::encode_dead_listing("q.dead", l);
    CHECK(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);
    std::string queue, why;
    auto back = serve::decode_dead_listing(line, queue, why);
    REQUIRE(back);
    CHECK(queue == "q.dead");
    CHECK(back->total == 7);
    REQUIRE(back->letters.size() == 2);
    CHECK(back->letters[0].summary.id == "a1");
    CHECK(back->letters[0].summary.attempt == 2);
    CHECK(back->letters[0].summary.error == "tab\there");
    CHECK(back->letters[0].body == l.letters[0].body);
    CHECK(back->letters[0].body_cut);
    CHECK(back->letters[1].summary.id == "m-2");
    CHECK(back->letters[1].summary.type.empty());
    CHECK_FALSE(serve::decode_dead_listing(R"({"ok":true,"op":"pong"})", queue, why));
}

TEST_CASE("a requeue answer names at most 100 kept letters and reads back", "[dead_letter_desk]") {
    queue::requeue_report r;
    r.moved = {"a", "b"};
    r.missing = {"zz"};
    r.left = 150;
    for (int i = 0; i < 150; ++i) r.kept.push_back({"k" + std::to_string(i), "undecodable"});
    const std::string line = serve::encode_requeue_report("q", r, true);
    CHECK(json::decode_response(line)->ok);
    std::string queue, why;
    bool more = false;
    auto back = serve::decode_requeue_report(line, queue, more, why);
    REQUIRE(back);
    CHECK(queue == "q");
    CHECK(more);
    CHECK(back->moved == r.moved);
    CHECK(back->missing == r.missing);
    CHECK(back->left == 150);
    REQUIRE(back->kept.size() == 150);  // counted all, named 100
    CHECK(back->kept[99].id == "k99");
    CHECK(back->kept[100].why.empty());
    CHECK(line.find("k100") == std::string::npos);

    r.trouble = "a: the broker did not accept it (nacked)";
    const std::string failed = serve::encode_requeue_report("q", r, false);
    auto f = json::decode_response(failed);
    CHECK_FALSE(f->ok);
    CHECK(f->error == "unavailable");
    CHECK(serve::decode_requeue_report(failed, queue, more, why)->trouble == r.trouble);
}

TEST_CASE("a purge answer reads back", "[dead_letter_desk]") {
    queue::purge_report r;
    r.purged = 3;
    r.missing = {"x"};
    r.left = 1;
    std::string queue, why;
    auto back = serve::decode_purge_report(serve::encode_purge_report("q.dead", r), queue, why);
    REQUIRE(back);
    CHECK(queue == "q.dead");
    CHECK(back->purged == 3);
    CHECK(back->missing == r.missing);
    CHECK(back->left == 1);
}
