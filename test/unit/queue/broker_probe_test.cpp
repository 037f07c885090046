// The broker ceiling of `pfo3 bench`. The measuring test needs a real RabbitMQ and runs only
// when PFO3_TEST_AMQP_URL names one (otherwise it passes with a warning), like broker_test.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "pfo3/core/error.hpp"
#include "pfo3/queue/broker_probe.hpp"

using namespace pfo3::queue;

namespace {

broker_probe_options small_probe(const std::string& url) {
    broker_probe_options o;
    o.url = amqp_url::parse(url);
    o.messages = 300;
    o.window = 16;
    o.prefetch = 8;
    o.body = R"({"id":"x","type":"echo","payload":"p","submitted_at":"2026-01-01T00:00:00.000Z","attempt":1})";
    o.phase_timeout = std::chrono::seconds(60);
    return o;
}

}  // namespace

TEST_CASE("a broker probe with nothing to send is a usage error", "[broker_probe]") {
    auto o = small_probe("amqp://guest:guest@127.0.0.1:1/%2f");
    o.messages = 0;
    CHECK_THROWS_AS(measure_broker_ceiling(o), pfo3::config_error);
    o.messages = 1;
    o.window = 0;
    CHECK_THROWS_AS(measure_broker_ceiling(o), pfo3::config_error);
}

TEST_CASE("a broker probe against no broker fails naming the broker", "[broker_probe]") {
    // Port 1 on loopback: nothing listens, the connect is refused at once.
    auto o = small_probe("amqp://guest:guest@127.0.0.1:1/%2f");
    try {
        measure_broker_ceiling(o);
        FAIL("measured a broker that does not exist");
    } catch (const pfo3::service_error& e) {
        CHECK(std::string(e.what()).find("127.0.0.1:1") != std::string::npos);
    }
}

TEST_CASE("a broker probe times every phase on a temporary queue of its own", "[broker_probe]") {
    const char* url = std::getenv("PFO3_TEST_AMQP_URL");
    if (!url || !*url) {
        WARN("PFO3_TEST_AMQP_URL not set: skipped");
        return;
    }
    auto r = measure_broker_ceiling(small_probe(url));
    CHECK(r.messages == 300);
    CHECK(r.publish_seconds > 0);
    CHECK(r.consume_seconds > 0);
    CHECK(r.pipeline_seconds > 0);
    CHECK(r.nacked == 0);
    CHECK(r.returned == 0);
    CHECK(r.queue.rfind("pfo3.bench.probe.", 0) == 0);
    auto again = measure_broker_ceiling(small_probe(url));
    CHECK(again.queue != r.queue);
}
