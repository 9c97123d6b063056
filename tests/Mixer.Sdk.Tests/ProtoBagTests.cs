using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.V1;
using Mixer.Sdk;
using StringMap = Istio.Mixer.V1.StringMap;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Sdk.Tests;

/// <summary>
/// ProtoBag over CompressedAttributes written index by index, as a client would put them on the
/// wire. The global indexes are literal positions in Istio 1.0's dictionary (0 source.ip,
/// 15 request.headers, 19 request.method, 24 request.time, 29 response.duration, 30 response.code,
/// 86 user-agent, 90 GET, 136 "200", 177 connection.mtls), so a shifted dictionary fails here too.
/// </summary>
public sealed class ProtoBagTests
{
    /// <summary>
    /// The bag of <paramref name="attributes"/>, after checking that decoding the same message from its
    /// bytes (what mixs does on Check) yields the same attributes with the same values.
    /// </summary>
    internal static ProtoBag Bag(CompressedAttributes attributes, uint globalWordCount = 203, ReferenceTracker? tracker = null)
    {
        ProtoBag.TryCreate(attributes, globalWordCount, null, tracker, out var bag, out var error).ShouldBeTrue(error);
        ProtoBag.TryCreate(attributes, globalWordCount, null, null, out var plain, out _).ShouldBeTrue();
        ProtoBag.TryCreate(attributes.ToByteArray(), globalWordCount, null, null, out var wire, out var wireError).ShouldBeTrue(wireError);
        wire.Names.Order(StringComparer.Ordinal).ShouldBe(plain.Names.Order(StringComparer.Ordinal));
        foreach (var name in plain.Names)
        {
            plain.TryGet(name, out var expected).ShouldBeTrue();
            wire.TryGet(name, out var actual).ShouldBeTrue();
            Describe(actual).ShouldBe(Describe(expected), $"'{name}' decoded from bytes");
        }

        return bag;
    }

    /// <summary>The error for <paramref name="attributes"/>, the same whether decoded from the message or from its bytes.</summary>
    internal static string Error(CompressedAttributes attributes, uint globalWordCount = 203)
    {
        ProtoBag.TryCreate(attributes, globalWordCount, null, null, out _, out var error).ShouldBeFalse();
        error.ShouldNotBeNull();
        error.ShouldStartWith(ProtoBag.InvalidAttributesPrefix);
        ProtoBag.TryCreate(attributes.ToByteArray(), globalWordCount, null, null, out _, out var wireError).ShouldBeFalse();
        wireError.ShouldBe(error);
        return error;
    }

    private static string Describe(AttributeValue v) => v.Type == ValueType.StringMap
        ? "map{" + string.Join(",", v.AsStringMap.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value)) + "}"
        : v.Type + ":" + v;

    [Fact]
    public void Bytes_NotAProtobufMessage_IsAnUndecodableError()
    {
        ProtoBag.TryCreate(new byte[] { 0x12, 0x05, 0x08 }, 203, null, null, out _, out var error).ShouldBeFalse();
        error.ShouldStartWith(ProtoBag.UndecodablePrefix);
        error.ShouldContain("runs past the end");
    }

    [Fact]
    public void Bytes_UnknownFieldsAndMissingMapValues_AreReadLikeAGeneratedParser()
    {
        // Field 15 is unknown (skipped); an int64s entry without a value is 0; a strings entry whose
        // value is word 136 ("200") resolves as usual.
        var bytes = new byte[] { 0x7A, 0x01, 0x00, 0x1A, 0x02, 0x08, 0x3C, 0x12, 0x05, 0x08, 0x26, 0x10, 0x90, 0x02 };
        ProtoBag.TryCreate(bytes, 203, null, null, out var bag, out var error).ShouldBeTrue(error);
        Get(bag, "response.code").ShouldBe(AttributeValue.Int64(0));
        Get(bag, "request.method").AsString.ShouldBe("200");
    }

    private static AttributeValue Get(IAttributeBag bag, string name)
    {
        bag.TryGet(name, out var value).ShouldBeTrue($"'{name}' should be in the bag");
        return value;
    }

    [Fact]
    public void String_GlobalNameAndGlobalValue_DecodesBothWords()
    {
        var bag = Bag(new CompressedAttributes { Strings = { [19] = 90 } });

        Get(bag, "request.method").AsString.ShouldBe("GET");
        bag.Count.ShouldBe(1);
    }

    [Fact]
    public void String_MessageWords_AreIndexedFromMinusOne()
    {
        var bag = Bag(new CompressedAttributes
        {
            Words = { "my.attribute", "hello", "other.attribute" },
            Strings = { [-1] = -2, [-3] = 90 },
        });

        Get(bag, "my.attribute").AsString.ShouldBe("hello");
        Get(bag, "other.attribute").AsString.ShouldBe("GET");
        Get(bag, "my.attribute").Type.ShouldBe(ValueType.String);
    }

    [Fact]
    public void Int64_IsCarriedInline()
    {
        var value = Get(Bag(new CompressedAttributes { Int64S = { [30] = 503, [-1] = long.MinValue }, Words = { "big" } }), "response.code");

        value.Type.ShouldBe(ValueType.Int64);
        value.AsInt64.ShouldBe(503);
        Get(Bag(new CompressedAttributes { Int64S = { [-1] = long.MinValue }, Words = { "big" } }), "big").AsInt64.ShouldBe(long.MinValue);
    }

    [Fact]
    public void Double_IsCarriedInline()
    {
        var value = Get(Bag(new CompressedAttributes { Words = { "ratio" }, Doubles = { [-1] = 0.25 } }), "ratio");

        value.Type.ShouldBe(ValueType.Double);
        value.AsDouble.ShouldBe(0.25);
    }

    [Fact]
    public void Bool_IsCarriedInline()
    {
        var bag = Bag(new CompressedAttributes { Words = { "flag.off" }, Bools = { [177] = true, [-1] = false } });

        Get(bag, "connection.mtls").AsBool.ShouldBeTrue();
        Get(bag, "flag.off").AsBool.ShouldBeFalse();
    }

    [Fact]
    public void Timestamp_KeepsNanoseconds()
    {
        var value = Get(Bag(new CompressedAttributes { Timestamps = { [24] = new Timestamp { Seconds = 1533038400, Nanos = 500 } } }), "request.time");

        value.Type.ShouldBe(ValueType.Timestamp);
        value.TimestampSeconds.ShouldBe(1533038400);
        value.TimestampNanos.ShouldBe(500);
        value.ToString().ShouldBe("2018-07-31T12:00:00.0000005Z");
    }

    [Fact]
    public void Duration_KeepsNanosecondsAndSign()
    {
        var bag = Bag(new CompressedAttributes
        {
            Words = { "negative" },
            Durations = { [29] = new Duration { Seconds = 1, Nanos = 500_000_001 }, [-1] = new Duration { Seconds = -2, Nanos = -5 } },
        });

        Get(bag, "response.duration").AsDurationNanos.ShouldBe(1_500_000_001);
        Get(bag, "negative").AsDurationNanos.ShouldBe(-2_000_000_005);
        Get(bag, "response.duration").ToString().ShouldBe("1.500000001s");
    }

    [Fact]
    public void Bytes_AreReturnedAsSent()
    {
        var value = Get(Bag(new CompressedAttributes { Bytes = { [0] = ByteString.CopyFrom(10, 0, 0, 1) } }), "source.ip");

        value.Type.ShouldBe(ValueType.Bytes);
        value.AsBytes.ShouldBe(new byte[] { 10, 0, 0, 1 });
        value.WithType(ValueType.IpAddress).ToString().ShouldBe("10.0.0.1");
    }

    [Fact]
    public void StringMap_KeysAndValuesAreWordIndexesOfBothDictionaries()
    {
        var bag = Bag(new CompressedAttributes
        {
            Words = { "curl/7.58", "x-status" },
            StringMaps = { [15] = new StringMap { Entries = { [86] = -1, [-2] = 136 } } },
        });

        var map = Get(bag, "request.headers").AsStringMap;
        map.Count.ShouldBe(2);
        map.TryGetValue("user-agent", out var agent).ShouldBeTrue();
        agent.ShouldBe("curl/7.58");
        bag.TryGetMapValue(AttributeName.Of("request.headers"), "x-status", out var status).ShouldBeTrue();
        status.ShouldBe("200");
        bag.TryGetMapValue(AttributeName.Of("request.headers"), "accept", out _).ShouldBeFalse();
    }

    [Fact]
    public void StringMap_Empty_IsAPresentMapWithNoEntries()
    {
        var bag = Bag(new CompressedAttributes { StringMaps = { [15] = new StringMap() } });

        Get(bag, "request.headers").AsStringMap.Count.ShouldBe(0);
    }

    [Fact]
    public void Names_ListEveryAttributeOfEveryKind()
    {
        var bag = Bag(new CompressedAttributes
        {
            Words = { "w" },
            Strings = { [19] = 90 },
            Int64S = { [30] = 200 },
            Doubles = { [-1] = 1 },
            Bools = { [177] = true },
            Timestamps = { [24] = new Timestamp() },
            Durations = { [29] = new Duration() },
            Bytes = { [0] = ByteString.Empty },
            StringMaps = { [15] = new StringMap() },
        });

        bag.Names.Order(StringComparer.Ordinal).ShouldBe(
            ["connection.mtls", "request.headers", "request.method", "request.time", "response.code", "response.duration", "source.ip", "w"]);
        bag.TryGet("request.path", out _).ShouldBeFalse();
    }

    [Fact]
    public void Lookup_ByInternedName_FindsGlobalAndMessageNamedAttributes()
    {
        // The same attribute name may arrive as a global index or, from an older client, as a message word.
        var asMessageWord = Bag(new CompressedAttributes { Words = { "response.code" }, Int64S = { [-1] = 404 } });
        var asGlobal = Bag(new CompressedAttributes { Int64S = { [30] = 404 } });

        asMessageWord.TryGet(AttributeName.Of("response.code"), out var a).ShouldBeTrue();
        asGlobal.TryGet(AttributeName.Of("response.code"), out var b).ShouldBeTrue();
        a.AsInt64.ShouldBe(404);
        b.AsInt64.ShouldBe(404);
    }

    public static TheoryData<string, CompressedAttributes, string> BadIndexes() => new()
    {
        { "strings name", new CompressedAttributes { Words = { "a" }, Strings = { [203] = -1 } }, "word index 203 (an attribute name in strings)" },
        { "strings value", new CompressedAttributes { Words = { "a" }, Strings = { [-1] = -2 } }, "word index -2 (the value of 'a')" },
        { "int64s", new CompressedAttributes { Int64S = { [-1] = 1 } }, "word index -1 (an attribute name in int64s)" },
        { "doubles", new CompressedAttributes { Words = { "a" }, Doubles = { [-5] = 1 } }, "word index -5 (an attribute name in doubles)" },
        { "bools", new CompressedAttributes { Bools = { [1000] = true } }, "word index 1000 (an attribute name in bools)" },
        { "timestamps", new CompressedAttributes { Timestamps = { [-2] = new Timestamp() }, Words = { "a" } }, "word index -2 (an attribute name in timestamps)" },
        { "durations", new CompressedAttributes { Durations = { [int.MaxValue] = new Duration() } }, $"word index {int.MaxValue} (an attribute name in durations)" },
        { "bytes", new CompressedAttributes { Bytes = { [int.MinValue] = ByteString.Empty } }, $"word index {int.MinValue} (an attribute name in bytes)" },
        { "string_maps name", new CompressedAttributes { StringMaps = { [204] = new StringMap() } }, "word index 204 (an attribute name in string_maps)" },
        { "string_maps key", new CompressedAttributes { StringMaps = { [15] = new StringMap { Entries = { [-1] = 90 } } } }, "word index -1 (a key of 'request.headers')" },
        { "string_maps value", new CompressedAttributes { StringMaps = { [15] = new StringMap { Entries = { [86] = 300 } } } }, "word index 300 (a value of 'request.headers')" },
    };

    [Theory]
    [MemberData(nameof(BadIndexes))]
    public void BadIndex_OutsideBothDictionaries_FailsNamingTheIndexAndWhereItWas(string field, CompressedAttributes attributes, string expected)
    {
        var error = Error(attributes);

        error.ShouldContain(expected, customMessage: field);
        error.ShouldContain("is not defined");
    }

    [Fact]
    public void BadIndex_Message_SaysHowLargeBothDictionariesAre()
    {
        var error = Error(new CompressedAttributes { Words = { "a", "b" }, Int64S = { [-3] = 1 } });

        error.ShouldContain("the global dictionary has 203 words (indexes 0..202) and the message 2 (indexes -1..-2)");
    }

    [Fact]
    public void LongerClientDictionary_AttributeNamedByAWordWeLack_IsNotSeen()
    {
        // A newer client knows 300 global words; word 250 is one we do not have. Istio 1.0's
        // server looked names up in its own list and so simply never saw such an attribute.
        var bag = Bag(new CompressedAttributes { Int64S = { [250] = 7, [30] = 200 }, StringMaps = { [260] = new StringMap() } }, globalWordCount: 300);

        bag.Count.ShouldBe(1);
        bag.Names.ShouldBe(["response.code"]);
    }

    [Fact]
    public void LongerClientDictionary_ValueGivenAsAWordWeLack_IsAnError()
    {
        var error = Error(new CompressedAttributes { Strings = { [19] = 250 } }, globalWordCount: 300);
        var keyError = Error(new CompressedAttributes { StringMaps = { [15] = new StringMap { Entries = { [299] = 90 } } } }, globalWordCount: 300);

        error.ShouldContain("word index 250 (the value of 'request.method') is beyond this Mixer's global dictionary of 203 words");
        keyError.ShouldContain("word index 299 (a key of 'request.headers') is beyond");
    }

    [Fact]
    public void LongerClientDictionary_IndexBeyondTheClientsCountToo_IsAnError()
    {
        Error(new CompressedAttributes { Int64S = { [300] = 7 } }, globalWordCount: 300).ShouldContain("word index 300 (an attribute name in int64s) is not defined");
    }

    [Fact]
    public void SameAttributeInTwoKinds_IsAnError()
    {
        Error(new CompressedAttributes { Strings = { [30] = 136 }, Int64S = { [30] = 200 } }).ShouldContain("attribute 'response.code' is given more than once");
    }

    [Fact]
    public void GlobalAndMessageWordForTheSameName_IsAnError()
    {
        Error(new CompressedAttributes { Words = { "response.code" }, Int64S = { [30] = 200, [-1] = 404 } }).ShouldContain("given more than once");
    }

    [Fact]
    public void Timestamp_NanosOutOfRange_IsAnError()
    {
        Error(new CompressedAttributes { Timestamps = { [24] = new Timestamp { Nanos = 1_000_000_000 } } }).ShouldContain("timestamp 'request.time' has nanos outside 0..999999999");
    }

    [Fact]
    public void Timestamp_OutsideTheYears1To9999_IsAnError()
    {
        // google.protobuf.Timestamp's range; beyond it a value could not be read or printed.
        Error(new CompressedAttributes { Timestamps = { [24] = new Timestamp { Seconds = 253402300800 } } }).ShouldContain("timestamp 'request.time' is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z");
        Error(new CompressedAttributes { Timestamps = { [24] = new Timestamp { Seconds = -62135596801 } } }).ShouldContain("timestamp 'request.time' is outside");
    }

    [Fact]
    public void Timestamp_AtTheEdgesOfItsRange_ReadsAndPrints()
    {
        var bag = Bag(new CompressedAttributes
        {
            Words = { "first" },
            Timestamps = { [24] = new Timestamp { Seconds = 253402300799, Nanos = 999_999_999 }, [-1] = new Timestamp { Seconds = -62135596800 } },
        });

        Get(bag, "request.time").ToString().ShouldBe("9999-12-31T23:59:59.999999999Z");
        Get(bag, "first").AsTimestamp.ShouldBe(DateTimeOffset.MinValue);
    }

    [Fact]
    public void Duration_MixedSignsOrTooLong_IsAnError()
    {
        Error(new CompressedAttributes { Durations = { [29] = new Duration { Seconds = 1, Nanos = -1 } } }).ShouldContain("duration 'response.duration' is out of range");
        Error(new CompressedAttributes { Durations = { [29] = new Duration { Seconds = long.MaxValue } } }).ShouldContain("duration 'response.duration' is out of range");
    }

    [Fact]
    public void ReportDefaultWords_StandInForAMessageWithoutWords()
    {
        ProtoBag.TryCreate(new CompressedAttributes { Strings = { [-1] = -2 } }, 203, ["shared.name", "shared value"], null, out var bag, out var error).ShouldBeTrue(error);
        ProtoBag.TryCreate(new CompressedAttributes { Words = { "own.name", "own value" }, Strings = { [-1] = -2 } }, 203, ["shared.name", "shared value"], null, out var own, out error).ShouldBeTrue(error);

        Get(bag, "shared.name").AsString.ShouldBe("shared value");
        Get(own, "own.name").AsString.ShouldBe("own value");
    }
}
