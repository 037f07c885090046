#pragma once
// The status page's fixed text: the HTML around the server-rendered meta tags, its script and
// its style (served as files of their own so the CSP allows no inline code).
namespace pfo3::sight {

extern const char* const page_html_head;  ///< up to and including <head>'s fixed part
extern const char* const page_html_body;  ///< from </head> to the end
extern const char* const page_script;     ///< GET /page.js
extern const char* const page_style;      ///< GET /page.css

}  // namespace pfo3::sight
