using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Tests;

/// <summary>One expression case: the text, the attributes, and what a user must see.</summary>
public sealed record Case(string Expr, object? Result = null, string? Error = null, string? CompileError = null, ValueType? Type = null)
{
    public (string Name, object Value)[] Attrs { get; init; } = [];

    public override string ToString() =>
        Expr + (Attrs.Length == 0 ? string.Empty : " with " + string.Join(", ", Attrs.Select(a => a.Name + "=" + Show(a.Value))));

    private static string Show(object v) => v is IDictionary<string, string> d ? "{" + string.Join(",", d.Select(kv => kv.Key + ":" + kv.Value)) + "}" : v is byte[] b ? Convert.ToHexString(b) : v.ToString() ?? "";
}

/// <summary>The shared table: parser, checker, compiler and the reference tree walker all run it.</summary>
public static class Cases
{
    public static readonly AttributeManifest Manifest = new(new Dictionary<string, ValueType>
    {
        ["a"] = ValueType.Int64,
        ["ai"] = ValueType.Int64,
        ["bi"] = ValueType.Int64,
        ["x"] = ValueType.Int64,
        ["y"] = ValueType.Int64,
        ["as"] = ValueType.String,
        ["bs"] = ValueType.String,
        ["cs"] = ValueType.String,
        ["ab"] = ValueType.Bool,
        ["bb"] = ValueType.Bool,
        ["ad"] = ValueType.Double,
        ["bd"] = ValueType.Double,
        ["ar"] = ValueType.StringMap,
        ["br"] = ValueType.StringMap,
        ["adur"] = ValueType.Duration,
        ["bdur"] = ValueType.Duration,
        ["at"] = ValueType.Timestamp,
        ["bt"] = ValueType.Timestamp,
        ["aip"] = ValueType.IpAddress,
        ["bip"] = ValueType.IpAddress,
        ["adns"] = ValueType.DnsName,
        ["bdns"] = ValueType.DnsName,
        ["aemail"] = ValueType.EmailAddress,
        ["bemail"] = ValueType.EmailAddress,
        ["auri"] = ValueType.Uri,
        ["buri"] = ValueType.Uri,
        ["request.user"] = ValueType.String,
        ["request.user2"] = ValueType.String,
        ["request.size"] = ValueType.Int64,
        ["request.path"] = ValueType.String,
        ["request.headers"] = ValueType.StringMap,
        ["request.time"] = ValueType.Timestamp,
        ["response.duration"] = ValueType.Duration,
        ["response.code"] = ValueType.Int64,
        ["source.name"] = ValueType.String,
        ["source.namespace"] = ValueType.String,
        ["source.labels"] = ValueType.StringMap,
        ["source.ip"] = ValueType.IpAddress,
        ["destination.service.host"] = ValueType.String,
        ["connection.mtls"] = ValueType.Bool,
        ["headername"] = ValueType.String,
    });

    private static readonly Dictionary<string, string> Headers = new() { ["x-user"] = "admin", ["user-agent"] = "curl/7.58", ["empty"] = "" };

    private static Case C(string expr, object? result, params (string, object)[] attrs) => new(expr, result) { Attrs = attrs };

    private static Case E(string expr, string error, params (string, object)[] attrs) => new(expr, Error: error) { Attrs = attrs };

    private static Case Bad(string expr, string compileError) => new(expr, CompileError: compileError);

    private static AttributeValue Dur(string s) => AttributeValue.DurationNanos(GoDuration.Parse(s));

    private static AttributeValue Ts(string s) => Rfc3339.TryParse(s, out var sec, out var n) ? AttributeValue.Timestamp(sec, n) : throw new ArgumentException(s);

    private static AttributeValue Ip(params byte[] b) => AttributeValue.IpAddress(b);

    private static AttributeValue Dns(string s) => AttributeValue.StringLike(ValueType.DnsName, s);

    private static AttributeValue Email(string s) => AttributeValue.StringLike(ValueType.EmailAddress, s);

    private static AttributeValue Uri(string s) => AttributeValue.StringLike(ValueType.Uri, s);

    private static Dictionary<string, string> Map(params string[] kv)
    {
        var d = new Dictionary<string, string>();
        for (var i = 0; i < kv.Length; i += 2)
        {
            d[kv[i]] = kv[i + 1];
        }

        return d;
    }

    public static readonly Case[] All =
    [
        // ---- literals ----
        C("true", true), C("false", false), C("TRUE", true), C("False", false),
        C("\"ABC\"", "ABC"), C("`raw\\n`", "raw\\n"), C("'x'", "x"), C("\"tab\\there\"", "tab\there"), C("\"\\u00e9\"", "é"),
        C("456789", 456789L), C("0", 0L), C("9223372036854775807", long.MaxValue),
        C("456.789", 456.789), C("1e3", 1000.0), C(".5", 0.5),
        C("\"10ms\"", Dur("10ms")), C("\"1.5s\"", Dur("1.5s")), C("\"2h45m\"", Dur("2h45m")),
        C("\"0\"", Dur("0s")), C("\"-0\"", Dur("0s")), C("\"1\"", "1"), C("\"\"", ""), C("\"abc\"", "abc"), C("\"10 ms\"", "10 ms"),
        Bad("0x1F", "invalid integer literal 0x1F"), Bad("9223372036854775808", "invalid integer literal"), Bad("1_000", "invalid integer literal"),
        Bad("\"open", "string literal not terminated"), Bad("@23", "illegal character U+0040 '@'"), Bad("2i", "unexpected expression"),

        // ---- attributes and lookups ----
        C("a", 2L, ("a", 2L)), C("a ", 2L, ("a", 2L)), C("as", "AAA", ("as", "AAA")), C("ad", 23.46, ("ad", 23.46)), C("ab", true, ("ab", true)),
        C("adur", Dur("20ms"), ("adur", Dur("20ms"))), C("at", Ts("1977-02-04T12:00:00Z"), ("at", Ts("1977-02-04T12:00:00Z"))),
        C("aip", Ip(1, 2, 3, 4), ("aip", new byte[] { 1, 2, 3, 4 })),
        C("adns", Dns("Example.COM"), ("adns", "Example.COM")),
        E("a == 2", "lookup failed: 'a'", ("d", 2L)), E("2 != a", "lookup failed: 'a'"), E("as", "lookup failed: 'as'"),
        E("as", "error converting value to string: '20'", ("as", 20L)),
        E("match(as, \"*.ns1.cluster\")", "error converting value to string: '20'", ("as", 20L)),
        E("ai == 1", "error converting value to integer or duration: 'x'", ("ai", "x")),
        C("adur | \"2s\"", Dur("1s"), ("adur", 1_000_000_000L)),
        C("ai == 5", true, ("ai", AttributeValue.DurationNanos(5))),

        // ---- equality ----
        C("a == 2", true, ("a", 2L)), C("a != 2", false, ("a", 2L)), C("a == 3", false, ("a", 2L)), C("3 == 2", false), C("3 != 2", true),
        C("true == false", false), C("false == false", true), C("true != false", true),
        C("\"ABC\" == \"ABC\"", true), C("\"ABC\" == \"CBA\"", false), C("\"ABC\" != \"ABC\"", false),
        C("23.45 == 45.23", false), C("23.45 != 45.23", true),
        C("as == bs", true, ("as", "ABC"), ("bs", "ABC")), C("ab == bb", true, ("ab", true), ("bb", true)),
        C("ai == bi", true, ("ai", 0x7F000000FF000000L), ("bi", 0x7F000000FF000000L)), C("ai == 2", false, ("ai", 0x7F000000FF000000L)),
        C("ad == bd", true, ("ad", 345345.45), ("bd", 345345.45)),
        Bad("adur == bdur", "'==' is not defined for DURATION values"), Bad("adur != \"1s\"", "'!=' is not defined for DURATION values"),
        Bad("response.duration == \"0ms\"", "not defined for DURATION"),
        C("as == \"\"", true, ("as", "")),
        C("request.user == \"user1\"", true, ("request.user", "user1")),
        Bad("true == a", "'==' needs operands of the same type"), Bad("3.14 == a", "'==' needs operands of the same type"),
        Bad("ai == true", "$ai"[1..] + " is INT64, true is BOOL"),
        Bad("ar == br", "'==' is not defined for STRING_MAP"),
        Bad("as == \"0\"", "is a DURATION"),
        Bad("ai == 2.0", "INT64"),

        // ---- IP, timestamp, DNS, e-mail, URI equality ----
        C("aip == bip", false, ("aip", new byte[] { 1, 2, 3, 4 }), ("bip", new byte[] { 4, 5, 6, 7 })),
        C("aip == bip", true, ("aip", new byte[] { 10, 0, 0, 1 }), ("bip", new byte[] { 10, 0, 0, 1 })),
        C("aip == ip(\"10.0.0.1\")", true, ("aip", new byte[] { 10, 0, 0, 1 })),
        C("aip == ip(\"::ffff:10.0.0.1\")", true, ("aip", new byte[] { 10, 0, 0, 1 })),
        C("aip != ip(\"10.0.0.2\")", true, ("aip", new byte[] { 10, 0, 0, 1 })),
        C("ip(\"2001:db8::1\") == ip(\"2001:0db8:0:0:0:0:0:1\")", true),
        C("ip(\"0.0.0.0\")", Ip(0, 0, 0, 0)),
        C("source.ip == ip(\"192.168.0.7\")", true, ("source.ip", new byte[] { 192, 168, 0, 7 })),
        E("ip(as)", "could not convert 10.1.12 to IP_ADDRESS", ("as", "10.1.12")),
        E("aip | ip(\"10.1.12\")", "could not convert 10.1.12 to IP_ADDRESS"),
        C("aip | ip(\"10.1.12\")", Ip(1, 1, 1, 1), ("aip", new byte[] { 1, 1, 1, 1 })),
        E("ip(\"1.2.3.256\")", "could not convert 1.2.3.256 to IP_ADDRESS"), E("ip(\"1.2.3\")", "could not convert"), E("ip(\"fe80::1%eth0\")", "could not convert"),
        Bad("ip(2)", "ip arg 1 (2) typeError got INT64, expected STRING"),
        C("at == bt", false, ("at", Ts("2015-01-02T15:04:35Z")), ("bt", Ts("2015-01-02T15:04:34Z"))),
        C("at == bt", true, ("at", Ts("2015-01-02T15:04:35Z")), ("bt", Ts("2015-01-02T15:04:35Z"))),
        C("at != bt", false, ("at", Ts("2015-01-02T15:04:35Z")), ("bt", Ts("2015-01-02T15:04:35Z"))),
        C("at == timestamp(\"2015-01-02T16:04:35+01:00\")", true, ("at", Ts("2015-01-02T15:04:35Z"))),
        C("timestamp(\"2015-01-02T15:04:35Z\")", Ts("2015-01-02T15:04:35Z")),
        C("timestamp(\"2015-01-02T15:04:35.123456789Z\")", AttributeValue.Timestamp(1420211075, 123456789)),
        C("request.time | timestamp(\"2015-01-02T15:04:35Z\")", Ts("2015-01-02T15:04:35Z")),
        E("request.time | timestamp(\"242233\")", "could not convert '242233' to TIMESTAMP. expected format: '2006-01-02T15:04:05Z07:00'"),
        Bad("request.time | timestamp(2)", "timestamp arg 1 (2) typeError got INT64, expected STRING"),
        C("adns == dnsName(\"example.com\")", true, ("adns", "EXAMPLE.com")),
        C("adns == dnsName(\"example.com\")", true, ("adns", "example.com.")),
        C("adns == bdns", false, ("adns", "a.example.com"), ("bdns", "b.example.com")),
        C("dnsName(\"Bücher.example\") == dnsName(\"xn--bcher-kva.example\")", true),
        C("dnsName(\"example.com\")", Dns("example.com")),
        E("dnsName(\"-a.example.com\")", "error converting '-a.example.com' to dns name: 'idna: invalid label \"-a\"'"),
        E("dnsName(\"\")", "error converting '' to dns name: 'idna: invalid label \"\"'"),
        C("aemail == email(\"User@Example.COM\")", true, ("aemail", "User@example.com")),
        C("aemail == email(\"user@example.com\")", false, ("aemail", "User@example.com")),
        C("aemail == bemail", true, ("aemail", "a@x.example"), ("bemail", "a@X.EXAMPLE")), E("aemail == bemail", "mail: no angle-addr", ("aemail", "a@x.example."), ("bemail", "a@x.example")),
        C("email(\"istio@example.com\")", Email("istio@example.com")),
        E("email(\"Istio <istio@example.com>\")", "display names are not allowed"),
        E("email(\"not-an-email\")", "error converting 'not-an-email' to e-mail"),
        E("email(\"\")", "error converting '' to e-mail: 'mail: no address'"), E("email(as)", "error converting 'barfoo' to e-mail:", ("as", "barfoo")),
        E("email(\"a@-b.com\")", "error converting 'a@-b.com' to e-mail: 'error converting '-b.com' to dns name"),
        C("email(as)", Email("\"istio\"@istio.io"), ("as", "\"istio\"@istio.io")), C("email(\"<istio@istio.io>\")", Email("<istio@istio.io>")),
        C("email(\"a@ b.com\")", Email("a@ b.com")), E("email(\"a @b.com\")", "to e-mail"), E("email(\"a@b.com (Joe)\")", "to e-mail"),
        C("aemail == bemail", true, ("aemail", "\"istio\"@istio.io"), ("bemail", "istio@istio.io")),
        C("auri == uri(\"HTTP://Example.com/a\")", true, ("auri", "http://example.com/a")),
        C("auri == uri(\"http://example.com:8080/a\")", false, ("auri", "http://example.com/a")),
        C("auri == uri(\"http://example.com/A\")", false, ("auri", "http://example.com/a")),
        C("auri == uri(\"urn:isbn:0451450523\")", true, ("auri", "URN:isbn:0451450523")),
        C("uri(\"https://istio.io/docs\")", Uri("https://istio.io/docs")),
        E("uri(\"\")", "error converting string to uri: empty string"),
        E("uri(\"http://example.com/%zz\")", "invalid URL escape"),
        E("uri(\":nope\")", "missing protocol scheme"),

        // ---- logic ----
        C("true || false", true), C("false || true", true), C("false || false", false), C("false || true || false", true),
        C("false && true", false), C("true && false", false), C("true && true", true),
        C("b1 && b2".Replace("b1", "ab").Replace("b2", "bb"), false, ("ab", false), ("bb", true)),
        C("ab && bb", true, ("ab", true), ("bb", true)),
        C("(x == 20 && y == 10) || x == 30", true, ("x", 20L), ("y", 10L)),
        E("x == 20 && y == 10", "lookup failed: 'x'", ("a", 20L)),
        E("x == 20 && y == 10", "lookup failed: 'y'", ("x", 20L)),
        C("x == 21 && y == 10", false, ("x", 20L)),
        C("x == 20 || y == 10", true, ("x", 20L)),
        C("ai == 20 || ar[\"b\"] == \"c\"", true, ("ai", 19L), ("ar", Map("b", "c"))),
        C("!ab", false, ("ab", true)), C("!(ai == 1)", true, ("ai", 2L)),
        Bad("!ai", "operand of '!' must be BOOL, got INT64"),
        Bad("ai || ab", "left operand of '||' must be BOOL"),
        Bad("ab && 1", "right operand of '&&' must be BOOL"),

        // ---- the | default operator ----
        C("request.user2 | request.user | \"user1\"", "user2", ("request.user", "user2")),
        C("request.user2 | request.user | \"user1\"", "user1"),
        C("request.size | 200", 120L, ("request.size", 120L)), C("request.size | 200", 0L, ("request.size", 0L)), C("request.size | 200", 200L),
        C("( request.user | \"unknown\" ) == \"users\"", false), C("(request.user | \"unknown\") == \"users\"", true, ("request.user", "users")),
        C("request.user | \"unknown\" == \"unknown\"", true),
        C("as | \"\"", ""), C("as | \"\"", "foo", ("as", "foo")), C("as | \"user1\"", "", ("as", "")),
        C("as | bs | \"user1\"", "b2", ("bs", "b2")), C("as | bs | \"user1\"", "a2", ("as", "a2"), ("bs", "b2")),
        C("ab | true", false, ("ab", false)), C("ab | bb | true", false, ("bb", false)), C("ab | bb | true", true),
        C("ai | bi | 42", 20L, ("bi", 20L)), C("ad | bd | 42.1", 42.1), C("ad | 42.1", 10.0, ("ad", 10.0)),
        C("adur | \"19ms\"", Dur("19ms")), C("adur | \"19ms\"", Dur("20ms"), ("adur", Dur("20ms"))),
        C("response.duration | \"0ms\"", Dur("0s")), C("response.duration | \"0\"", Dur("0s")),
        C("at | bt", Ts("1977-02-04T12:00:00Z"), ("bt", Ts("1977-02-04T12:00:00Z"))),
        C("aip | bip", Ip(4, 5, 6, 7), ("bip", new byte[] { 4, 5, 6, 7 })),
        E("as | bs", "lookup failed: 'bs'"),
        E("(as | bs) == \"x\"", "lookup failed: 'bs'"),
        C("ar[\"c\"] | \"foo\"", "foo"), C("ar[\"c\"] | \"foo\"", "b", ("ar", Map("c", "b"))),
        C("ar[\"c\"] | \"foo\"", "", ("ar", Map("c", ""))),
        C("ar[\"c\"] | \"foo\"", "foo", ("ar", Map("d", "x"))),
        C("ar[as] | \"foo\"", "foo"), C("ar[as] | \"foo\"", "foo", ("ar", Map("as", "bar"))), C("ar[as] | \"foo\"", "foo", ("as", "bar")),
        C("ar[as] | \"foo\"", "foo", ("ar", Map("as", "bar")), ("as", "!!!!")), C("ar[as] | \"foo\"", "bar", ("ar", Map("asval", "bar")), ("as", "asval")),
        C("ar[\"b\"] | ar[\"c\"] | \"null\"", "c", ("ar", Map("b", "c", "c", "b"))), C("ar[\"b\"] | ar[\"c\"] | \"null\"", "null", ("ar", Map())),
        C("ar[\"b\"] | ar[\"c\"] | \"null\"", "b", ("ar", Map("c", "b"))),
        C("(ar | br)[\"foo\"]", "bar", ("ar", Map("foo", "bar")), ("br", Map("foo", "far"))), C("(ar | br)[\"foo\"]", "far", ("br", Map("foo", "far"))),
        C("(ar | emptyStringMap())[\"foo\"]", ""),
        C("source.labels[\"app\"] | \"unknown\"", "unknown", ("source.labels", Map("version", "v1"))),
        C("as | conditional(ab, \"y\", \"n\")", "y", ("ab", true)),
        C("as | toLower(bs)", "abc", ("bs", "ABC")),
        E("as | toLower(bs)", "lookup failed: 'bs'"),
        C("\"lit\" | as", "lit"),
        E("conditional(true, as, \"x\") | \"y\"", "lookup failed: 'as'"), E("(true && ab) | bb", "lookup failed: 'ab'", ("bb", true)),
        Bad("as | 2", "'|' needs operands of the same type"),
        Bad("source.labels[\"x\"] | \"0\"", "is a DURATION"),
        Bad("response.duration | 10", "'|' needs operands of the same type"),

        // ---- maps ----
        C("ar[\"b\"]", "c", ("ar", Map("b", "c"))), C("ar[\"missing\"]", "", ("ar", Map("b", "c"))),
        C("sm[as]".Replace("sm", "ar"), "bar", ("as", "foo"), ("ar", Map("foo", "bar"))),
        E("ar[\"b\"]", "lookup failed: 'ar'"),
        E("request.headers[headername] == \"aaa\"", "lookup failed: 'headername'", ("request.headers", Map("x", "y"))),
        C("request.headers[headername] == \"aaa\"", true, ("request.headers", Map("X-FORWARDED-HOST", "aaa")), ("headername", "X-FORWARDED-HOST")),
        C("request.headers[\"X-FORWARDED-HOST\"] == \"aaa\"", false, ("request.headers", Map("X-FORWARDED-HOST", "bbb"))),
        C("match(request.headers[\"user-agent\"], \"curl*\")", false, ("request.headers", Map())),
        C("match(request.headers[\"user-agent\"], \"curl*\")", true, ("request.headers", Headers)),
        C("request.headers[\"x-user\"] == \"admin\" && source.namespace == \"prod\"", true, ("request.headers", Headers), ("source.namespace", "prod")),
        C("emptyStringMap()[\"a\"]", ""),
        C("ar", new StringMapValue(Map("k", "v")), ("ar", Map("k", "v"))),
        C("emptyStringMap()", StringMapValue.Empty),
        Bad("as[\"x\"]", "only STRING_MAP values can be indexed"),
        Bad("ar[1]", "map key must be STRING, got INT64"),
        Bad("ar[\"0\"]", "is a DURATION"),

        // ---- functions ----
        C("match(as, \"*.ns1.cluster\")", true, ("as", "svc1.ns1.cluster")), C("match(as, \"*.ns1.cluster\")", false, ("as", "svc1.ns2.cluster")),
        C("match(as, \"svc1.*\")", true, ("as", "svc1.ns1.cluster")), C("match(as, \"svc1\")", true, ("as", "svc1")), C("match(as, \"svc\")", false, ("as", "svc1")),
        C("match(as, \"*\")", true, ("as", "anything")), C("match(\"abc\", \"*b*\")", false), C("match(\"ab*\", \"*b*\")", false), C("match(\"*bc\", \"*b*\")", true),
        C("match(request.path, \"/api/*\") || destination.service.host == \"reviews.default.svc.cluster.local\"", true, ("request.path", "/api/v1")),
        E("match(as, bs)", "lookup failed: 'bs'", ("as", "x")),
        Bad("match(as, 1)", "match arg 2 (1) typeError got INT64, expected STRING"),
        Bad("match(as)", "match arity mismatch. Got 1 arg(s), expected 2 arg(s)"),
        C("as.startsWith(\"/api\")", true, ("as", "/api/v1")), C("as.startsWith(\"/api\")", false, ("as", "/v1/api")),
        C("request.path.startsWith(\"/api\")", true, ("request.path", "/api/v1")),
        C("as.endsWith(\".local\")", true, ("as", "a.svc.local")), C("\"abc\".endsWith(\"bc\")", true),
        C("\"svc.*\".matches(as)", true, ("as", "svc.ns")), C("\"^svc\\\\.\".matches(as)", false, ("as", "svcxns")),
        C("\"a+b\".matches(\"xxaaab\")", true), C("\"(?P<x>a)\".matches(\"a\")", true), C("cs.matches(as)", true, ("as", "hello"), ("cs", "^h.l+o$")),
        E("\"(\".matches(as)", "error parsing regexp", ("as", "x")),
        E("cs.matches(as)", "error parsing regexp", ("as", "x"), ("cs", "[")),
        Bad("matches(\"a\", \"b\")", "invoking instance method without an instance: matches"),
        Bad("as.match(\"a\")", "invoking regular function on instance method: match"),
        Bad("ai.startsWith(\"a\")", "startsWith target typeError got INT64, expected STRING"),
        C("toLower(as)", "mixed", ("as", "MiXeD")), C("toLower(\"ÀB\")", "àb"),
        C("size(as)", 5L, ("as", "hello")), C("size(\"é\")", 2L), C("size(\"\")", 0L),
        Bad("size(ai)", "size arg 1 (ai) typeError got INT64, expected STRING"),
        C("conditional(ab, \"yes\", \"no\")", "yes", ("ab", true)), C("conditional(ab, \"yes\", \"no\")", "no", ("ab", false)),
        C("conditional(ab, 1, bi)", 1L, ("ab", true)), E("conditional(ab, 1, bi)", "lookup failed: 'bi'", ("ab", false)),
        C("conditional(ab, as, \"x\")", "x", ("ab", false)),
        C("conditional(true, 1, 2)", 1L), C("conditional(ab, adur, \"5s\")", Dur("5s"), ("ab", false)),
        Bad("conditional(ab, 1, \"x\")", "conditional arg 3 (\"x\") typeError got STRING, expected INT64"),
        Bad("conditional(ai, 1, 2)", "conditional arg 1 (ai) typeError got INT64, expected BOOL"),
        C("conditionalString(ab, \"a\", \"b\")", "b", ("ab", false)), E("conditionalString(ab, \"a\", bs)", "lookup failed: 'bs'", ("ab", true)),
        Bad("nosuch(1)", "unknown function: nosuch"), Bad("mtch(as, \"x\")", "did you mean 'match'?"),
        Bad("reverse(as)", "unknown function: reverse"),

        // ---- ADD and arithmetic ----
        C("as + \"-\" + bs", "a-b", ("as", "a"), ("bs", "b")), C("\"a\" + \"b\"", "ab"), C("ai + 1", 3L, ("ai", 2L)), C("1 + 2", 3L), C("1.5 + ad", 3.0, ("ad", 1.5)),
        C("9223372036854775807 + 1", long.MinValue),
        Bad("-ai", "unknown function: SUB"), Bad("-1.5", "CEXL has no negative numbers"), Bad("request.size | -1", "unknown function: SUB"),
        Bad("+ai", "ADD arity mismatch. Got 1 arg(s), expected 2 arg(s)"), Bad("^ai", "unknown function: XOR"), Bad("&ai", "unknown function: AND"),
        Bad("adur + bdur", "'+' adds STRING, INT64 or DOUBLE values, not DURATION"),
        Bad("(x/y) == 30", "unknown function: QUO"), Bad("x - y", "unknown function: SUB"), Bad("x * y", "operator '*' is not supported"),
        Bad("x % y", "REM"), Bad("x & y", "AND"), Bad("x ^ y", "XOR"), Bad("x << 1", "SHL"),
        Bad("*x", "unexpected expression: unary operator '*'"),

        // ---- comparisons (Istio 1.1) ----
        C("ai < 3", true, ("ai", 2L)), C("ai <= 2", true, ("ai", 2L)), C("ai > 2", false, ("ai", 2L)), C("ai >= 2", true, ("ai", 2L)),
        C("ad < 1.5", true, ("ad", 1.0)), C("\"abc\" < \"abd\"", true), C("as > \"b\"", true, ("as", "c")), C("as <= \"a\"", false, ("as", "b")),
        C("\"\uFFFD\" < \"\U0001F600\"", true),
        C("at < bt", true, ("at", Ts("2015-01-02T15:04:34Z")), ("bt", Ts("2015-01-02T15:04:35Z"))),
        C("at >= timestamp(\"2015-01-02T15:04:35.5Z\")", false, ("at", Ts("2015-01-02T15:04:35Z"))),
        Bad("response.duration > \"100ms\"", "'>' compares STRING, INT64, DOUBLE or TIMESTAMP values, not DURATION"),
        C("response.code >= 500", false, ("response.code", 200L)),
        Bad("ab < bb", "'<' compares STRING, INT64, DOUBLE or TIMESTAMP values, not BOOL"),
        Bad("aip < bip", "not IP_ADDRESS"),
        Bad("ai < ad", "'<' needs operands of the same type"),

        // ---- precedence (Go's) ----
        C("true || false && false", true), C("(true || false) && false", false),
        C("ai == 1 || ai == 2 && false", true, ("ai", 1L)),
        C("as | \"x\" + \"y\"", "xy"), C("1 + 2 == 3", true), C("ai | 1 + 1 == 2", true),
        C("(((ai)))", 5L, ("ai", 5L)),

        // ---- syntax and checking errors ----
        Bad("a = 2", "expected 'EOF', found '='"), Bad("a ==", "expected operand, found EOF"), Bad("(a == 2", "expected ')', found EOF"),
        Bad("", "empty expression"), Bad("a b", "expected 'EOF', found b"), Bad("f(", "expected operand"),
        Bad("ar[1:2]", "slice expressions are not supported"), Bad("as.(string)", "type assertions are not supported"),
        Bad("request.usr == \"x\"", "unknown attribute 'request.usr'; did you mean 'request.user'?"),
        Bad("zzzzzz", "unknown attribute 'zzzzzz'"),
        Bad("(as).x", "unexpected expression"),
        Bad("as.x.startsWith(\"a\")", "unknown attribute 'as.x'"),
        Bad("request.headers[\"x\"].size", "unexpected expression"),

        // ---- Istio 1.0.6 parity: lexing as Go's scanner does ----
        C("a /* note */ == 2 // trailing", true, ("a", 2L)), C("a ==\n 2", true, ("a", 2L)), C("a == 2\n", true, ("a", 2L)),
        Bad("a\n== 2", "expected 'EOF', found newline"), Bad("a /* open", "comment not terminated"),
        Bad("type == 2", "expected operand, found 'type'"), Bad("request.type == \"x\"", "expected selector, found 'type'"),
        C("0755", 755L), Bad("089", "illegal octal number 089"), C("089.5", 89.5), C("5.", 5.0),
        C("\"\\xc3\\xa9\"", "é"), C("\"\\303\\251\"", "é"), Bad("\"\\xff\"", "byte escapes"), C("'\\x41'", "A"), Bad("\"\\'\"", "unknown escape sequence"),
        C("'0'", Dur("0s")), C("\"1h\"", Dur("1h")), C("\"+5s\"", Dur("5s")), C("\"1h30m\"", Dur("90m")), C("\"5.s\"", Dur("5s")), C("\".5s\"", Dur("500ms")),
        C("\"1µs\"", Dur("1us")), C("\"-1.5h\"", AttributeValue.DurationNanos(-5_400_000_000_000)), C("\"1d\"", "1d"), C("\"s\"", "s"), C("\"10 ms\"", "10 ms"),
        Bad("as | \"10ms\"", "is a DURATION"),

        // ---- parity: precedence (| and + are both Go's level 4, left-associative) ----
        C("as | \"unknown\" + \"b\"", "ab", ("as", "a")), C("as | \"a\" + bs + \"c\"", "abc", ("bs", "b")), C("as + (bs | \"b\") + \"c\"", "abc", ("as", "a")),

        // ---- parity: | takes no value from an operator on its left (Istio's code generator) ----
        C("(ai == 1) | false", false, ("ai", 1L)), C("(ab && bb) | true", true, ("ab", false), ("bb", false)),
        E("(ai == 1) | bb", "lookup failed: 'bb'", ("ai", 1L)), E("(ai == 1) | true", "lookup failed: 'ai'"),
        C("(\"a\" + \"b\") | \"c\"", "c"), C("(1 == 1) | ab | true", true), C("(1 == 1) | ab | true", false, ("ab", false)),
        C("size(as) | 3", 3L, ("as", "hello")), C("(ai < 2) | ab", true, ("ai", 1L), ("ab", true)),
        C("toLower(as) | \"x\"", "abc", ("as", "ABC")), C("conditional(ab, 1, 2) | 3", 1L, ("ab", true)), C("(!ab) | true", false, ("ab", true)),
        E("as | bs | \"x\"", "error converting value to string: '3'", ("bs", 3L)), E("ai | bi | 1", "error converting value to integer or duration: 'x'", ("bi", "x")),
        C("as | bs", "b", ("bs", "b")), E("as | bs", "lookup failed: 'bs'"), C("adns | bdns", Dns("b.c"), ("bdns", "b.c")),
        C("\"foo\" | \"bar\"", "foo"), E("ip(as) | ip(bs)", "lookup failed: 'as'", ("bs", "1.2.3.4")),
        C("emptyStringMap() | source.labels", StringMapValue.Empty, ("source.labels", Map("test", "foo"))),
        C("source.labels | emptyStringMap()", StringMapValue.Empty),
        C("emptyStringMap()[\"a\"] | \"d\"", "d"), C("(emptyStringMap() | br)[\"a\"] | \"d\"", "d"), C("emptyStringMap()[\"a\"]", ""),

        // ---- parity: method targets ----
        Bad("ar[\"x\"].startsWith(\"a\")", "unexpected expression"), C("(as).startsWith(\"a\")", true, ("as", "abc")),
        C("toLower(as).endsWith(\"c\")", true, ("as", "ABC")), C("\"abc\".startsWith(as)", true, ("as", "ab")),
        Bad("\"aaa\".matches(23)", "matches arg 1 (23) typeError got INT64, expected STRING"), Bad("matches()", "invoking instance method without an instance"),

        // ---- parity: IP addresses (Go's net.ParseIP and net.IP.Equal) ----
        C("aip == bip", true, ("aip", new byte[] { 10, 0, 0, 1 }), ("bip", new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1 })),
        C("aip == bip", false, ("aip", new byte[] { 10, 0, 0, 1 }), ("bip", new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1 })),
        C("ip(\"010.000.000.001\") == ip(\"10.0.0.1\")", true), C("ip(\"::ffff:10.0.0.1\")", Ip(10, 0, 0, 1)), C("ip(\"::1\")", Ip(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)),
        E("ip(\"1.2.3.4:80\")", "could not convert 1.2.3.4:80 to IP_ADDRESS"), E("ip(\"[::1]\")", "could not convert"), E("ip(\"\")", "could not convert  to IP_ADDRESS"),
        E("ip(\"1.2.3.4 \")", "could not convert"), E("ip(\"1.2.3.04.5\")", "could not convert"),

        // ---- parity: DNS names (x/net/idna as Istio 1.0 vendored it) ----
        C("dnsName(\"a_b.example.com\")", Dns("a_b.example.com")), C("dnsName(\"Example.COM\")", Dns("Example.COM")), C("dnsName(\"foo.bar.\")", Dns("foo.bar.")),
        C("dnsName(\"xn--bcher-kva.example\")", Dns("bücher.example")), C("dnsName(\"" + new string('a', 70) + ".com\")", Dns(new string('a', 70) + ".com")),
        E("dnsName(\"ab--c.com\")", "invalid label \"ab--c\""), E("dnsName(\"a..b\")", "invalid label \"a..b\""), E("dnsName(\".\")", "invalid label"),
        E("dnsName(\"a-.com\")", "invalid label \"a-\""),
        C("dnsName(\"foo.bar.baz\") == dnsName(\"foo.Bar.baz.\")", true), C("adns == bdns", true, ("adns", "foo.bar.com"), ("bdns", "fOO.bar.com")),
        C("adns != bdns", true, ("adns", "foo.bar.com"), ("bdns", "bar.foo.com")), C("adns == bdns", false, ("adns", "foo.bar."), ("bdns", "foo.bar..")),
        E("adns == bdns", "idna: disallowed rune U+005F", ("adns", "a_b.com"), ("bdns", "a_b.com")),

        // ---- parity: URIs (Go 1.10's net/url) ----
        C("uri(\"http://x.com/?a=%zz\")", Uri("http://x.com/?a=%zz")), C("uri(\"http://a.com:abc/\")", Uri("http://a.com:abc/")), C("uri(\"urn:foo\")", Uri("urn:foo")),
        C("uri(\"/relative/path\")", Uri("/relative/path")), C("uri(\"*\")", Uri("*")),
        E("uri(\"http://a b.com/\")", "invalid character \" \" in host name"), E("uri(\"http://[::1\")", "missing ']' in host"),
        E("uri(\"http://x.com/a%2\")", "invalid URL escape \"%2\""), E("uri(\":/\")", "missing protocol scheme"),
        E("uri(\"http://us er@x.com/\")", "net/url: invalid userinfo"), E("uri(\"1a:b\")", "first path segment in URL cannot contain colon"),
        C("auri == buri", true, ("auri", "http://x.com/a%20b"), ("buri", "http://x.com/a b")), C("uri(\"http://foo.bar.baz\") == uri(\"http://foo.Bar.baz.\")", true),
        C("auri == buri", false, ("auri", "http://istio.io:80"), ("buri", "http://istio.io")), C("auri == buri", false, ("auri", "ftp://x.com/a"), ("buri", "ftp://X.com/a")),
        C("(auri | uri(\"https://foo.bar.baz\")) == uri(\"https://foo.Bar.baz.\")", false, ("auri", "foo.bar.com")),

        // ---- parity: timestamps (Go's time.Parse with time.RFC3339) ----
        C("timestamp(\"2015-01-02T5:04:05Z\") == timestamp(\"2015-01-02T05:04:05Z\")", true),
        C("timestamp(\"2015-01-02T16:04:05+01:00\") == timestamp(\"2015-01-02T15:04:05Z\")", true),
        C("timestamp(\"2016-02-29T00:00:00Z\")", Ts("2016-02-29T00:00:00Z")), C("timestamp(\"2015-01-02T15:04:05.000000000100Z\")", AttributeValue.Timestamp(1420211045, 100)),
        E("timestamp(\"2015-01-02t15:04:05Z\")", "could not convert"), E("timestamp(\"2015-01-02T15:04:05z\")", "could not convert"),
        E("timestamp(\"2015-02-29T15:04:05Z\")", "could not convert"), E("timestamp(\"2015-01-02T24:00:00Z\")", "could not convert"),
        E("timestamp(\"2015-01-02T15:04:60Z\")", "could not convert"), E("timestamp(\"2015-01-02T15:04:05.1234567890Z\")", "could not convert"),
        E("timestamp(\"2015-01-02T15:04:05+0100\")", "could not convert"), E("timestamp(\"2015-01-02T15:04:05\")", "could not convert"),
        E("timestamp(\"2015-01-02 15:04:05Z\")", "could not convert"), E("timestamp(\"2015-1-02T15:04:05Z\")", "could not convert"),

        // ---- parity: matches is Go's RE2 search ----
        C("\"^a$\".matches(as)", false, ("as", "a\n")), C("\"(?m)^b$\".matches(\"a\\nb\")", true), C("\"b\".matches(\"abc\")", true),
        C("\"\\\\d\".matches(as)", false, ("as", "\u0663")), C("\"\\\\w+\".matches(as)", false, ("as", "é")), C("\"[\\\\d]\".matches(\"7\")", true),
        C("\"[[:alpha:]]+\".matches(\"abc\")", true), C("\"^[[:digit:]]+$\".matches(\"12a\")", false), C("\"\\\\pL\".matches(\"é\")", true),
        C("\"\\\\Qa.b\\\\E\".matches(\"axb\")", false), C("\"\\\\Qa.b\\\\E\".matches(\"a.b\")", true), C("\"\\\\x{41}\".matches(\"A\")", true), C("\"\\\\101\".matches(\"A\")", true),
        C("\"[a[]\".matches(\"[\")", true), C("\"(?i)ABC\".matches(\"xabcx\")", true),
        E("\"a{1001}\".matches(\"a\")", "error parsing regexp"), E("\"(a)\\\\1\".matches(\"aa\")", "error parsing regexp"), E("\"(?=a)\".matches(\"a\")", "error parsing regexp"),
        E("\"a\\\\Z\".matches(\"a\")", "error parsing regexp"),

        // ---- parity: match is a prefix or suffix glob only ----
        C("match(\"abc\", \"*\")", true), C("match(\"\", \"*\")", true), C("match(\"a*b\", \"a*b\")", true), C("match(\"axb\", \"a*b\")", false), C("match(\"abc\", \"**\")", false), C("match(\"*bc\", \"**\")", true),
    ];

    public static IEnumerable<object[]> Data => All.Select(c => new object[] { c });

    public static IEnumerable<object[]> Runnable => All.Where(c => c.CompileError is null).Select(c => new object[] { c });

    public static AttributeValue ToValue(object v) => v switch
    {
        AttributeValue av => av,
        string s => AttributeValue.String(s),
        long l => AttributeValue.Int64(l),
        double d => AttributeValue.Double(d),
        bool b => AttributeValue.Bool(b),
        byte[] bytes => AttributeValue.Bytes(bytes), // as the wire carries IPs
        Dictionary<string, string> m => AttributeValue.StringMap(new StringMapValue(m)),
        IStringMap m => AttributeValue.StringMap(m),
        _ => throw new ArgumentException("no attribute value for " + v.GetType()),
    };

    public static DictionaryBag Bag(Case c, ReferenceTracker? tracker = null) =>
        new(c.Attrs.Select(a => KeyValuePair.Create(a.Name, ToValue(a.Value))), tracker);
}
