#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "pfo3/core/error.hpp"
#include "pfo3/store/result_store.hpp"
#include "pg_connection.hpp"
#include "pg_uri.hpp"

using pfo3::store::is_postgres_uri;
using pfo3::store::mask_postgres_uri;
using pfo3::store::postgres_record_fault;
using pfo3::store::postgres_retryable;
using pfo3::store::sqlstate_in_message;

TEST_CASE("postgres URIs are recognised by either scheme") {
    CHECK(is_postgres_uri("postgresql://u:p@h:5432/db"));
    CHECK(is_postgres_uri("postgres://h/db"));
    CHECK_FALSE(is_postgres_uri("postgresq://h/db"));
    CHECK_FALSE(is_postgres_uri("file:///var/lib/pfo3"));
    CHECK_FALSE(is_postgres_uri("host=h dbname=db"));
}

TEST_CASE("masking hides the password in the authority and in the query") {
    CHECK(mask_postgres_uri("postgresql://pfo3:s3cret@db:5432/pfo3?sslmode=require") ==
          "postgresql://pfo3:***@db:5432/pfo3?sslmode=require");
    CHECK(mask_postgres_uri("postgresql://pfo3@db/pfo3?password=s3cret&sslmode=verify-full") ==
          "postgresql://pfo3@db/pfo3?password=***&sslmode=verify-full");
    CHECK(mask_postgres_uri("postgresql://u:a@b@db/x?sslmode=disable&password=zz") ==
          "postgresql://u:***@db/x?sslmode=disable&password=***");
    CHECK(mask_postgres_uri("postgresql://db/pfo3") == "postgresql://db/pfo3");
    CHECK(mask_postgres_uri("postgresql:///pfo3?host=/run/postgresql") ==
          "postgresql:///pfo3?host=/run/postgresql");
}

TEST_CASE("masking hides passwords with / ? # @, raw or percent-encoded, wherever they are written") {
    for (char c : {'/', '?', '#', '@'}) {
        char encoded[4];
        std::snprintf(encoded, sizeof encoded, "%%%02X", static_cast<unsigned char>(c));
        for (const std::string& form : {std::string("Secr") + c + "et9", std::string("Secr") + encoded + "et9"}) {
            INFO(form);
            // In the user information...
            const auto authority = mask_postgres_uri("postgresql://pfo3:" + form + "@db:5432/pfo3?sslmode=require");
            CHECK(authority == "postgresql://pfo3:***@db:5432/pfo3?sslmode=require");
            // ...and as a query parameter, also when it is the last one.
            const auto query = mask_postgres_uri("postgresql://pfo3@db/pfo3?password=" + form + "&sslmode=require");
            CHECK(query == "postgresql://pfo3@db/pfo3?password=***&sslmode=require");
            const auto last = mask_postgres_uri("postgres://pfo3@db/pfo3?sslmode=require&password=" + form);
            CHECK(last == "postgres://pfo3@db/pfo3?sslmode=require&password=***");
            for (const auto& masked : {authority, query, last}) {
                CHECK(masked.find("Secr") == std::string::npos);
                CHECK(masked.find("et9") == std::string::npos);
            }
        }
    }
}

TEST_CASE("what a retry can cure is retryable, what it cannot is not") {
    // Lost or unreachable server: no SQLSTATE at all.
    CHECK(postgres_retryable("", false));
    for (auto code : {"08006", "08001", "57P01", "57P03", "40001", "40P01", "53300", "57014"})
        CHECK(postgres_retryable(code, true));
    for (auto code : {"28P01", "28000", "3D000", "42P01", "42501", "22P02", "22021", "23505", "XX000"})
        CHECK_FALSE(postgres_retryable(code, false));
}

TEST_CASE("data, constraint and size refusals are the record's fault, nothing else is") {
    for (auto code : {"22P02", "22003", "22007", "22008", "22021", "22P05", "23505", "23502", "54000", "54001"})
        CHECK(postgres_record_fault(code));
    for (auto code : {"", "08006", "57P01", "53100", "28P01", "42P01", "42501", "40001", "XX000", "2200"})
        CHECK_FALSE(postgres_record_fault(code));
}

TEST_CASE("the SQLSTATE of a refused connection is read from libpq's verbose message") {
    CHECK(sqlstate_in_message("connection to server at \"127.0.0.1\", port 5434 failed: FATAL:  28P01: "
                              "password authentication failed for user \"pfo3\"\nLOCATION:  auth_failed, auth.c:323\n") ==
          "28P01");
    CHECK(sqlstate_in_message("FATAL:  3D000: database \"x\" does not exist") == "3D000");
    CHECK(sqlstate_in_message("connection to server at \"127.0.0.1\", port 1 failed: Connection refused") == "");
    CHECK(sqlstate_in_message("FATAL:  password authentication failed") == "");
    CHECK(sqlstate_in_message("") == "");
}

TEST_CASE("a malformed postgres URI is a configuration error that does not show the password") {
    try {
        pfo3::store::open_store("postgresql://u:hunter22@127.0.0.1:1/db?no_such_parameter=1");
        FAIL("no error");
    } catch (const pfo3::config_error& e) {
        std::string what = e.what();
        CHECK(what.find("no_such_parameter") != std::string::npos);
        CHECK(what.find("hunter22") == std::string::npos);
    }
}

TEST_CASE("an unreachable server is a retryable error naming the store, password masked") {
    try {
        // Port 1 on loopback refuses at once; nothing listens there.
        pfo3::store::open_store("postgresql://u:hunter22@127.0.0.1:1/db?connect_timeout=5");
        FAIL("no error");
    } catch (const pfo3::service_error& e) {
        std::string what = e.what();
        CHECK(e.retryable());
        CHECK(what.find("postgresql store postgresql://u:***@127.0.0.1:1/db") != std::string::npos);
        CHECK(what.find("connect") != std::string::npos);
        CHECK(what.find("hunter22") == std::string::npos);
    }
}

TEST_CASE("libpq's TLS refusals are told apart from a TLS connection that broke") {
    using pfo3::store::postgres_tls_refusal;
    for (const char* m : {
             "connection to server at \"127.0.0.1\", port 5476 failed: SSL error: certificate verify failed",
             "connection to server at \"127.0.0.1\", port 5476 failed: server certificate for \"localhost\" (and 1 "
             "other name) does not match host name \"other.example\"",
             "connection to server at \"127.0.0.1\", port 5476 failed: root certificate file \"/x/ca.pem\" does not "
             "exist; Either provide the file or change sslmode to disable server certificate verification.",
             "connection to server at \"127.0.0.1\", port 5476 failed: server does not support SSL, but SSL was "
             "required",
             "could not load private key file \"/k.pem\": No such file or directory",
         })
        CHECK(postgres_tls_refusal(m));
    for (const char* m : {
             "connection to server at \"127.0.0.1\", port 5476 failed: SSL SYSCALL error: EOF detected",
             "connection to server at \"127.0.0.1\", port 5476 failed: SSL error: unexpected eof while reading",
             "connection to server at \"127.0.0.1\", port 5476 failed: Connection refused",
             "FATAL:  password authentication failed for user \"pfo3\"",
         })
        CHECK_FALSE(postgres_tls_refusal(m));
}
