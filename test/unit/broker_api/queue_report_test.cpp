// The management API's queue pages read, compared with what pfo3 declares, and printed
// (management.hpp, queue_report.hpp).
#include <catch2/catch.hpp>

#include "pfo3/broker_api/management.hpp"
#include "pfo3/broker_api/queue_report.hpp"
#include "pfo3/core/error.hpp"

using namespace pfo3::broker_api;

namespace {

// As RabbitMQ 3.10 answers GET /api/queues/%2F?columns=...&page=1 (trimmed to what is asked).
const char* const quorum_page = R"({"filtered_count":3,"item_count":3,"items":[
 {"arguments":{"x-dead-letter-exchange":"","x-dead-letter-routing-key":"jobs.dead",
   "x-dead-letter-strategy":"at-least-once","x-delivery-limit":3,"x-max-length":1000000,
   "x-overflow":"reject-publish","x-queue-type":"quorum","x-quorum-initial-group-size":3},
  "consumers":2,"leader":"rabbit@n1","members":["rabbit@n1","rabbit@n2","rabbit@n3"],"messages":7,
  "name":"jobs","online":["rabbit@n1","rabbit@n3"],"type":"quorum"},
 {"arguments":{"x-max-length":1000000,"x-overflow":"reject-publish","x-queue-type":"quorum",
   "x-quorum-initial-group-size":3},"consumers":0,"leader":"rabbit@n2",
  "members":["rabbit@n1","rabbit@n2","rabbit@n3"],"messages":0,"name":"jobs.dead",
  "online":["rabbit@n1","rabbit@n2","rabbit@n3"],"type":"quorum"},
 {"arguments":{"x-dead-letter-exchange":"jobs.delay.due","x-message-ttl":1000,"x-queue-type":"classic"},
  "consumers":0,"messages":1,"name":"jobs.delay.1000","node":"rabbit@n1","type":"classic"}],
 "page":1,"page_count":1,"page_size":500,"total_count":3})";

pfo3::queue::topology quorum_jobs(int delivery_limit) {
    pfo3::queue::topology t;
    t.queue = "jobs";
    t.queue_type = "quorum";
    t.delivery_limit = delivery_limit;
    return t;
}

}  // namespace

TEST_CASE("a page of queues is read: type, arguments as text, leader, members, online", "[broker_api]") {
    std::int64_t pages = 0;
    const auto qs = parse_queue_page(quorum_page, pages);
    CHECK(pages == 1);
    REQUIRE(qs.size() == 3);
    CHECK(qs[0].name == "jobs");
    CHECK(qs[0].type == "quorum");
    CHECK(qs[0].leader == "rabbit@n1");
    CHECK(qs[0].members.size() == 3);
    CHECK(qs[0].online.size() == 2);
    CHECK(qs[0].messages == 7);
    CHECK(qs[0].consumers == 2);
    CHECK(qs[0].arguments.front() == std::pair<std::string, std::string>{"x-dead-letter-exchange", ""});
    CHECK(qs[2].leader == "rabbit@n1");  // a classic queue's node
    CHECK(qs[2].members == std::vector<std::string>{"rabbit@n1"});
}

TEST_CASE("what is not a page of queues is an error, not an empty list", "[broker_api]") {
    std::int64_t pages = 0;
    CHECK_THROWS_AS(parse_queue_page("[]", pages), pfo3::service_error);
    CHECK_THROWS_AS(parse_queue_page("<html>", pages), pfo3::service_error);
}

TEST_CASE("queues as declared are reported as expected, and an offline member is named", "[broker_api]") {
    std::int64_t pages = 0;
    const auto rows = compare(quorum_jobs(3), parse_queue_page(quorum_page, pages));
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].name == "jobs");
    CHECK(rows[0].differences == std::vector<std::string>{"members offline: 1 of 3"});
    CHECK(rows[1].differences.empty());
    // A classic ladder level under a quorum configuration was left by a classic one: its quorum
    // ladder is named .delay.quorum.<ms> (decision 0012), so this one is flagged, not expected.
    CHECK_FALSE(rows[2].expected);
    REQUIRE(rows[2].differences.size() == 1);
    CHECK(rows[2].differences[0].starts_with("not a queue pfo3 declares under this configuration"));
    const auto table = render(rows);
    CHECK(table.find("QUEUE") == 0);
    CHECK(table.find("2/3: rabbit@n1, rabbit@n2, rabbit@n3") != std::string::npos);
    CHECK(table.find("jobs.delay.1000  -") != std::string::npos);
}

TEST_CASE("a differing argument, a wrong type and a missing queue are each named", "[broker_api]") {
    std::int64_t pages = 0;
    auto actual = parse_queue_page(quorum_page, pages);
    actual.erase(actual.begin() + 1);  // no dead-letter queue
    const auto rows = compare(quorum_jobs(5), actual);
    CHECK(rows[0].differences.front() == "x-delivery-limit: expected 5, actual 3");
    CHECK(rows[1].name == "jobs.dead");
    CHECK(rows[1].differences == std::vector<std::string>{"missing: serve and work declare it when they start"});
    pfo3::queue::topology classic_jobs;
    classic_jobs.queue = "jobs";
    const auto classic = compare(classic_jobs, actual);
    CHECK(classic[0].differences.front() == "type: expected classic, actual quorum");
    CHECK(render(classic).find("pfo3 declares") == std::string::npos);  // classic: no arguments to list
    CHECK(render(rows).find("MISSING") != std::string::npos);
}
