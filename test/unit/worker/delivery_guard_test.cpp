#include "worker_harness.hpp"

using namespace worker_test;
using pfo3::worker::delivery_guard;

namespace {
pfo3::queue::delivery with_tag(std::uint64_t tag) {
    pfo3::queue::delivery d;
    d.tag = tag;
    return d;
}
}  // namespace

TEST_CASE("a guard settles its delivery exactly once", "[guard]") {
    recording_settler s;
    SECTION("dropped unsettled: nack and requeue") {
        { delivery_guard g(with_tag(1), s); }
        auto all = s.all();
        REQUIRE(all.size() == 1);
        CHECK_FALSE(all[0].ack);
        CHECK(all[0].requeue);
    }
    SECTION("acked: nothing more when dropped, a second settle does nothing") {
        {
            delivery_guard g(with_tag(2), s);
            g.ack();
            CHECK_FALSE(g.unsettled());
            g.nack(true);
        }
        REQUIRE(s.all().size() == 1);
        CHECK(s.acks_of(2) == 1);
    }
    SECTION("moved: only the new owner settles") {
        {
            delivery_guard a(with_tag(3), s);
            delivery_guard b(std::move(a));
            CHECK_FALSE(a.unsettled());  // NOLINT(bugprone-use-after-move): the point of the test
            b.nack(false);
        }
        auto all = s.all();
        REQUIRE(all.size() == 1);
        CHECK_FALSE(all[0].requeue);
    }
    SECTION("assigned over an unsettled guard: the old delivery is handed back") {
        {
            delivery_guard a(with_tag(4), s);
            delivery_guard b(with_tag(5), s);
            a = std::move(b);
            a.ack();
        }
        auto all = s.all();
        REQUIRE(all.size() == 2);
        CHECK(all[0].tag == 4);
        CHECK(all[0].requeue);
        CHECK(s.acks_of(5) == 1);
    }
}
