#include "pfo3/queue/dead_letter.hpp"

#include <climits>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>

#include "pfo3/core/task_id.hpp"

namespace pfo3::queue {

namespace {

using rapidjson::Document;
using rapidjson::Value;

// Strict UTF-8 (like the rest of pfo3), iterative parsing (no recursion on the input), full
// precision so numbers in payloads survive a requeue unchanged.
constexpr unsigned parse_flags =
    rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag;

// Nesting depth outside strings, checked before parsing: the document tree is destroyed and
// written recursively, so a body of 100000 '[' must be refused before it becomes a tree.
bool within_depth(std::string_view s, int max_depth) noexcept {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (char ch : s) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (ch == '\\') escaped = true;
            else if (ch == '"') in_string = false;
            continue;
        }
        if (ch == '"') in_string = true;
        else if (ch == '[' || ch == '{') {
            if (++depth > max_depth) return false;
        } else if (ch == ']' || ch == '}') --depth;
    }
    return true;
}

bool parse(std::string_view body, Document& doc, std::string& why) {
    if (!within_depth(body, max_dead_letter_depth)) {
        why = "nested deeper than " + std::to_string(max_dead_letter_depth) + " levels";
        return false;
    }
    doc.Parse<parse_flags>(body.data(), body.size());
    if (doc.HasParseError()) {
        why = std::string("not JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) + " at byte " +
              std::to_string(doc.GetErrorOffset());
        return false;
    }
    return true;
}

bool parse_object(std::string_view body, Document& doc, std::string& why) {
    if (!parse(body, doc, why)) return false;
    if (!doc.IsObject()) {
        why = "not a JSON object";
        return false;
    }
    return true;
}

std::string_view view(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

const Value* member(const Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string compact(const Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
    return std::string(buf.GetString(), buf.GetSize());
}

// The task id of a body, as decode_message reads it (a string, or a number from a foreign
// producer); empty if there is none.
std::string id_of(const Value& doc) {
    const Value* id = member(doc, "id");
    if (!id) return {};
    if (id->IsString()) return std::string(view(*id));
    if (id->IsUint64()) return std::to_string(id->GetUint64());
    return {};
}

// Appends the code point `cp` as UTF-8.
void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Length of the well-formed UTF-8 sequence at s[i] (no overlongs, surrogates or values past
// U+10FFFF), 0 if there is none; its code point in `cp`.
std::size_t utf8_sequence(std::string_view s, std::size_t i, std::uint32_t& cp) noexcept {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    std::size_t len;
    std::uint32_t min;
    if (c < 0x80) {
        cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (i + len > s.size()) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        if ((b(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b(i + k) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

// `s` as a JSON string literal; bytes that are not well-formed UTF-8 become U+FFFD.
std::string quote_repaired(std::string_view s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size();) {
        std::uint32_t cp = 0;
        std::size_t len = utf8_sequence(s, i, cp);
        if (len == 0) {
            append_utf8(out, 0xFFFD);
            ++i;
            continue;
        }
        i += len;
        if (cp == '"') out += "\\\"";
        else if (cp == '\\') out += "\\\\";
        else if (cp == '\n') out += "\\n";
        else if (cp == '\r') out += "\\r";
        else if (cp == '\t') out += "\\t";
        else if (cp < 0x20) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[cp >> 4];
            out += hex[cp & 0xF];
        } else {
            append_utf8(out, cp);
        }
    }
    out += '"';
    return out;
}

}  // namespace

dead_letter_summary summarize_dead_letter(std::string_view body, std::string_view message_id, std::string_view type) {
    dead_letter_summary s;
    s.id = message_id;
    s.type = type;
    Document doc;
    std::string why;
    if (!parse_object(body, doc, why)) {
        s.error = "undecodable body: " + why;
        return s;
    }
    s.decodable = true;
    if (auto id = id_of(doc); !id.empty()) s.id = std::move(id);
    const Value* t = member(doc, "type");
    if (!t) t = member(doc, "accion");
    if (t && t->IsString()) s.type = view(*t);
    if (const Value* a = member(doc, "attempt"); a && a->IsInt() && a->GetInt() > 0) s.attempt = a->GetInt();
    if (const Value* e = member(doc, "error")) s.error = e->IsString() ? std::string(view(*e)) : compact(*e);
    if (const Value* at = member(doc, "submitted_at"); at && at->IsString()) s.submitted_at = view(*at);
    return s;
}

std::optional<std::string> requeue_body(std::string_view dead_body, std::string& why) {
    Document doc;
    if (!parse_object(dead_body, doc, why)) {
        why = "undecodable body: " + why;
        return std::nullopt;
    }
    if (!is_valid_task_id(id_of(doc))) {
        why = "the body has no valid task \"id\"";
        return std::nullopt;
    }
    // EraseMember keeps the order of the other fields (RemoveMember would not).
    doc.EraseMember("error");
    if (auto it = doc.FindMember("attempt"); it != doc.MemberEnd()) it->value.SetInt(1);
    else doc.AddMember("attempt", 1, doc.GetAllocator());
    // A new run of the task: its records replace the dead one (pfo3::may_replace), and a stale
    // copy of an earlier run can never replace the new run's record.
    int requeues = 0;
    if (auto it = doc.FindMember("requeues"); it != doc.MemberEnd()) {
        if (!it->value.IsInt() || it->value.GetInt() < 0 || it->value.GetInt() == INT_MAX) {
            why = "the body's \"requeues\" is not a count";
            return std::nullopt;
        }
        requeues = it->value.GetInt();
        it->value.SetInt(requeues + 1);
    } else {
        doc.AddMember("requeues", 1, doc.GetAllocator());
    }
    return compact(doc);
}

std::string dead_letter_json_line(std::string_view body) {
    Document doc;
    std::string why;
    if (!parse(body, doc, why)) return quote_repaired(body);
    // Valid JSON has line breaks only as whitespace between tokens.
    if (body.find_first_of("\r\n") == std::string_view::npos) return std::string(body);
    return compact(doc);
}

std::string one_line(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    return out;
}

}  // namespace pfo3::queue
