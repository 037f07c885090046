#include "pfo3/serve/dead_letter_report.hpp"

#include "pfo3/json/message.hpp"
#include "pfo3/queue/dead_letter.hpp"

namespace pfo3::serve {

namespace {

std::string or_dash(const std::string& s) { return s.empty() ? "-" : queue::one_line(s); }

dead_outcome list(dead_letter_path& p, const dead_action& a, std::ostream& out, std::ostream& err) {
    std::string dead;
    const queue::dead_listing l = p.list(a.limit, dead);
    if (!a.json) out << "ID\tTYPE\tATTEMPT\tSUBMITTED_AT\tERROR\n";
    for (const auto& x : l.letters) {
        const auto& d = x.summary;
        if (a.json) {
            // A cut body is no JSON any more: printed as a JSON string, still one value a line.
            out << (x.body_cut ? json::quote(x.body) : x.body) << '\n';
            if (x.body_cut)
                err << "note: " << or_dash(d.id) << ": body cut to " << x.body.size() << " of " << x.body_size
                    << " bytes (pfo3 dead --direct list --json prints it whole)\n";
            continue;
        }
        out << or_dash(d.id) << '\t' << or_dash(d.type) << '\t' << (d.attempt > 0 ? std::to_string(d.attempt) : "-")
            << '\t' << or_dash(d.submitted_at) << '\t' << or_dash(d.error) << '\n';
    }
    out.flush();
    err << l.letters.size() << " of " << l.total << " dead letters in " << dead << " shown"
        << (l.cut ? " (the answer's size bound was reached)" : "") << '\n';
    return dead_outcome::done;
}

dead_outcome requeue(dead_letter_path& p, const dead_action& a, std::ostream& out, std::ostream& err, bool terminal) {
    std::string queue;
    std::size_t moved_so_far = 0;
    const auto r = p.requeue({a.all, a.ids}, queue, [&](const std::vector<std::string>& ids, std::uint32_t left) {
        for (const auto& id : ids) out << id << '\n';
        out.flush();
        moved_so_far += ids.size();
        if (terminal && left > 0) err << "\rrequeued " << moved_so_far << ", " << left << " left   " << std::flush;
    });
    if (terminal && moved_so_far > 0) err << '\n';
    const std::string dead = queue + ".dead";
    std::size_t unnamed = 0;
    for (const auto& k : r.kept) {
        if (k.why.empty()) ++unnamed;
        else err << "error: " << or_dash(k.id) << ": cannot be a task again (" << k.why << "); left in " << dead << '\n';
    }
    if (unnamed) err << "error: " << unnamed << " more dead letters cannot be tasks again; left in " << dead << '\n';
    for (const auto& id : r.missing) err << "error: " << id << ": no such dead letter in " << dead << '\n';
    if (!r.trouble.empty()) err << "error: " << r.trouble << ", stopping\n";
    err << "requeued " << r.moved.size() << " dead letters to " << queue << " (attempt reset to 1); " << r.left
        << " left in " << dead << '\n';
    if (!r.trouble.empty()) return dead_outcome::stopped;
    return r.kept.empty() && r.missing.empty() ? dead_outcome::done : dead_outcome::some_left;
}

dead_outcome purge(dead_letter_path& p, const dead_action& a, std::ostream& out, std::ostream& err) {
    std::string dead;
    if (!a.yes) {
        const std::uint32_t n = p.list(1, dead).total;
        err << "error: refusing to delete " << (a.ids.empty() ? "the " + std::to_string(n) : std::string("any of the"))
            << " dead letters in " << dead << " without --yes\n";
        return dead_outcome::refused_without_yes;
    }
    const auto r = p.purge({a.ids.empty(), a.ids}, dead);
    for (const auto& id : r.missing) err << "error: " << id << ": no such dead letter in " << dead << '\n';
    out << "purged " << r.purged << " dead letters from " << dead << '\n';
    return r.missing.empty() ? dead_outcome::done : dead_outcome::some_left;
}

}  // namespace

dead_outcome run_dead_action(dead_letter_path& p, const dead_action& a, std::ostream& out, std::ostream& err,
                             bool terminal) {
    if (a.action == "list") return list(p, a, out, err);
    if (a.action == "purge") return purge(p, a, out, err);
    return requeue(p, a, out, err, terminal);
}

}  // namespace pfo3::serve
