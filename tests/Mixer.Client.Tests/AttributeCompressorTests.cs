using System.Net;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Istio.Mixer.V1;
using Mixer.Client;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Client.Tests;

/// <summary>
/// What the compressor puts on the wire, read back by the server's own decoder (ProtoBag) after a
/// trip through bytes, as mixs would see it.
/// </summary>
public sealed class AttributeCompressorTests
{
    private static ProtoBag Decode(CheckRequest request)
    {
        var wire = CheckRequest.Parser.ParseFrom(request.ToByteArray());
        ProtoBag.TryCreate(wire.Attributes, wire.GlobalWordCount, null, null, out var bag, out var error).ShouldBeTrue(error);
        return bag;
    }

    private static Mixer.Sdk.AttributeValue Get(IAttributeBag bag, string name)
    {
        bag.TryGet(name, out var value).ShouldBeTrue($"'{name}' should be in the bag");
        return value;
    }

    internal static Attributes EveryType() => new Attributes()
        .SetString("request.method", "GET")
        .SetString("my.own.attribute", "a value no dictionary has")
        .SetInt64("response.code", 503)
        .SetDouble("my.ratio", -0.125)
        .SetBool("connection.mtls", true)
        .SetTimestamp("request.time", new Timestamp { Seconds = 1533038400, Nanos = 123_456_789 })
        .SetTimestamp("context.time", new DateTimeOffset(2018, 7, 31, 14, 0, 0, TimeSpan.FromHours(2)))
        .SetDuration("response.duration", new Google.Protobuf.WellKnownTypes.Duration { Seconds = 1, Nanos = 5 })
        .SetDuration("my.negative.duration", TimeSpan.FromMilliseconds(-1500))
        .SetBytes("my.bytes", [0, 255, 7])
        .SetIpAddress("source.ip", IPAddress.Parse("10.0.0.1"))
        .SetIpAddress("destination.ip", IPAddress.IPv6Loopback)
        .SetStringMap("request.headers", [new("user-agent", "curl/7.58"), new("x-user", "jane"), new(":authority", "reviews")]);

    [Fact]
    public void Compress_EveryValueType_ReadsBackThroughProtoBag()
    {
        var bag = Decode(new AttributeCompressor().CreateCheckRequest(EveryType()));

        bag.Count.ShouldBe(13);
        Get(bag, "request.method").AsString.ShouldBe("GET");
        Get(bag, "my.own.attribute").AsString.ShouldBe("a value no dictionary has");
        Get(bag, "response.code").AsInt64.ShouldBe(503);
        Get(bag, "my.ratio").AsDouble.ShouldBe(-0.125);
        Get(bag, "connection.mtls").AsBool.ShouldBeTrue();
        Get(bag, "request.time").ToString().ShouldBe("2018-07-31T12:00:00.123456789Z");
        Get(bag, "context.time").ToString().ShouldBe("2018-07-31T12:00:00Z");
        Get(bag, "response.duration").AsDurationNanos.ShouldBe(1_000_000_005);
        Get(bag, "my.negative.duration").AsDurationNanos.ShouldBe(-1_500_000_000);
        Get(bag, "my.bytes").AsBytes.ShouldBe(new byte[] { 0, 255, 7 });
        Get(bag, "source.ip").WithType(ValueType.IpAddress).ToString().ShouldBe("10.0.0.1");
        Get(bag, "destination.ip").AsBytes.Length.ShouldBe(16);
        StringMaps.Format(Get(bag, "request.headers").AsStringMap).ShouldBe(":authority:reviews;user-agent:curl/7.58;x-user:jane");
    }

    [Fact]
    public void Compress_KnownWords_AreGlobalIndexes_OthersMessageWordsOnce()
    {
        var compressed = new AttributeCompressor().Compress(new Attributes()
            .SetString("request.method", "GET")
            .SetString("my.attribute", "my.value")
            .SetString("my.other", "my.value")
            .SetStringMap("request.headers", [new("user-agent", "my.value")]));

        compressed.Strings[19].ShouldBe(90);                     // request.method = GET
        compressed.Words.ShouldBe(["my.attribute", "my.value", "my.other"]);
        compressed.Strings[-1].ShouldBe(-2);
        compressed.Strings[-3].ShouldBe(-2);                     // the shared word, one slot
        compressed.StringMaps[15].Entries[86].ShouldBe(-2);      // request.headers{user-agent}
    }

    [Fact]
    public void Compress_WithTheBaseDictionary_SpellsOutLaterWords()
    {
        var compressor = new AttributeCompressor(AttributeCompressor.BaseGlobalWordCount);
        var request = compressor.CreateCheckRequest(new Attributes().SetString("destination.service", "reviews").SetInt64("response.code", 200));

        request.GlobalWordCount.ShouldBe(111u);
        request.Attributes.Words.ShouldBe(["destination.service", "reviews"]);   // destination.service is word 152
        request.Attributes.Int64S.Keys.ShouldBe([30]);
        Get(Decode(request), "destination.service").AsString.ShouldBe("reviews");
    }

    [Fact]
    public void Compress_WithNoGlobalWords_UsesOnlyMessageWords_AsIstiosMixc()
    {
        var request = new AttributeCompressor(0).CreateCheckRequest(EveryType());

        request.GlobalWordCount.ShouldBe(0u);
        request.Attributes.Strings.ShouldAllBe(kv => kv.Key < 0 && kv.Value < 0);
        request.Attributes.Int64S.Keys.ShouldAllBe(k => k < 0);
        request.Attributes.StringMaps.Values.SelectMany(m => m.Entries).ShouldAllBe(kv => kv.Key < 0 && kv.Value < 0);
        Decode(request).Count.ShouldBe(13);
    }

    [Fact]
    public void CreateCheckRequest_CarriesTheDeduplicationId()
    {
        new AttributeCompressor().CreateCheckRequest(new Attributes(), "abc-1").DeduplicationId.ShouldBe("abc-1");
    }

    [Fact]
    public void Compress_AttributeWithoutValue_IsRefusedNamingIt()
    {
        var attributes = new Attributes { Attributes_ = { ["empty.one"] = new Attributes.Types.AttributeValue() } };

        Should.Throw<ArgumentException>(() => new AttributeCompressor().Compress(attributes)).Message.ShouldContain("'empty.one' has no value");
    }

    [Fact]
    public void GlobalWordCount_OutsideTheDictionary_IsRefused()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => new AttributeCompressor(204));
        Should.Throw<ArgumentOutOfRangeException>(() => new AttributeCompressor(-1));
    }

    [Fact]
    public void ShrinkToBase_DropsToTheFirst111Words_NeverGrows()
    {
        var full = new AttributeCompressor();
        var small = new AttributeCompressor(50);

        full.ShrinkToBase();
        small.ShrinkToBase();

        full.GlobalWordCount.ShouldBe(111);
        small.GlobalWordCount.ShouldBe(50);
        full.Compress(new Attributes().SetString("destination.service", "x")).Words.ShouldContain("destination.service");
    }

    [Fact]
    public void IsInvalidDictionaryError_RecognisesTheAnswerIstiosProxyShrinksOn()
    {
        AttributeCompressor.IsInvalidDictionaryError(new Status(StatusCode.InvalidArgument, "Request could not be processed due to invalid attributes: word index 250")).ShouldBeTrue();
        AttributeCompressor.IsInvalidDictionaryError(new Status(StatusCode.Unknown, "request could not be processed due to invalid attributes: x")).ShouldBeFalse();
        AttributeCompressor.IsInvalidDictionaryError(new Status(StatusCode.InvalidArgument, "quota 'x': amount must not be negative")).ShouldBeFalse();
    }
}
