using Google.Protobuf;
using Istio.Mixer.V1;

namespace Mixer.Server.Tests;

/// <summary>
/// Check and Report as an Istio 1.0 client sends them, bytes written by hand (see
/// <see cref="HandEncodedClient"/>), against the real mixs.
/// </summary>
public sealed class WireCompatibilityTests(MixsFixture fixture) : IClassFixture<MixsFixture>
{
    // CompressedAttributes field numbers (istio.mixer.v1).
    private const int Words = 1, Strings = 2, Int64s = 3, Doubles = 4, Bools = 5, Timestamps = 6, Durations = 7, BytesMap = 8, StringMaps = 9;

    // Global words (Istio 1.0's dictionary).
    private const int SourceIp = 0, SourceNamespace = 4, RequestHeaders = 15, RequestPath = 17, RequestSize = 23, RequestTime = 24,
        ResponseDuration = 29, ResponseCode = 30, Get = 90, UserAgent = 86, ContextProtocol = 131, Http = 92;

    /// <summary>Every value type, names as global words and as message words, values likewise.</summary>
    private static Pb EveryValueType() => new Pb()
        .String(Words, "my-namespace")          // -1
        .String(Words, "custom.ratio")          // -2
        .String(Words, "curl/7.61")             // -3
        .String(Words, "custom.flag")           // -4
        .MapEntry(Strings, SourceNamespace, v => v.SInt32(2, -1))
        .MapEntry(Strings, RequestPath, v => v.SInt32(2, -3))
        .MapEntry(Strings, ContextProtocol, v => v.SInt32(2, Http))
        .MapEntry(Int64s, RequestSize, v => v.Int64(2, 1234))
        .MapEntry(Int64s, ResponseCode, v => v.Int64(2, 200))
        .MapEntry(Doubles, -2, v => v.Double(2, 0.25))
        .MapEntry(Bools, -4, v => v.Varint(2, 1))
        .MapEntry(Timestamps, RequestTime, v => v.Message(2, new Pb().Int64(1, 1_532_000_000).Varint(2, 123_456_789)))
        .MapEntry(Durations, ResponseDuration, v => v.Message(2, new Pb().Int64(1, 1).Varint(2, 500_000_000)))
        .MapEntry(BytesMap, SourceIp, v => v.Bytes(2, [10, 0, 0, 1]))
        .MapEntry(StringMaps, RequestHeaders, v => v.Message(2, new Pb()
            .MapEntry(1, UserAgent, e => e.SInt32(2, -3))
            .MapEntry(1, -1, e => e.SInt32(2, Get))));

    private static byte[] CheckRequestBytes(Pb attributes, uint globalWordCount = 203, Pb? quotas = null)
    {
        var request = new Pb().Message(1, attributes).Varint(2, globalWordCount).String(3, "dedup-1");
        if (quotas is not null)
        {
            request.Message(4, quotas);
        }

        return request.ToArray();
    }

    [Fact]
    public async Task Check_EveryValueTypeHandEncoded_IsAcceptedWithCacheableOk()
    {
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);

        var reply = await client.CallAsync("Check", CheckRequestBytes(EveryValueType()));

        reply.Status.ShouldBe(0, reply.Message);
        var response = CheckResponse.Parser.ParseFrom(reply.Payload);
        response.Precondition.Status.Code.ShouldBe(0);
        response.Precondition.ValidDuration.ToTimeSpan().ShouldBeGreaterThan(TimeSpan.Zero);
        response.Precondition.ValidUseCount.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task Check_NoRules_AlwaysSendsPreconditionStatusAndDuration()
    {
        // Istio's proxy reads an absent valid_duration as "never expires": mixs must always send it,
        // so its bytes must appear in the answer even for the default result.
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);

        var reply = await client.CallAsync("Check", CheckRequestBytes(new Pb()));

        reply.Status.ShouldBe(0);
        var response = CheckResponse.Parser.ParseFrom(reply.Payload);
        response.Precondition.ShouldNotBeNull();
        response.Precondition.Status.ShouldNotBeNull();
        response.Precondition.ValidDuration.ToTimeSpan().ShouldBe(TimeSpan.FromMinutes(1));
        response.Precondition.ValidUseCount.ShouldBe(10_000);
    }

    [Fact]
    public async Task Check_WithQuotaAndNoRules_GrantsRequestedAmount()
    {
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);
        var quotas = new Pb().String(1, "requestcount").Message(2, new Pb().Int64(1, 3));

        var reply = await client.CallAsync("Check", CheckRequestBytes(EveryValueType(), quotas: quotas));

        reply.Status.ShouldBe(0, reply.Message);
        var response = CheckResponse.Parser.ParseFrom(reply.Payload);
        response.Quotas.ShouldContainKey("requestcount");
        response.Quotas["requestcount"].GrantedAmount.ShouldBe(3);
        response.Quotas["requestcount"].ValidDuration.ToTimeSpan().ShouldBeGreaterThan(TimeSpan.Zero);
    }

    [Theory]
    [InlineData(Strings, "strings")]
    [InlineData(Int64s, "int64s")]
    [InlineData(Doubles, "doubles")]
    [InlineData(Bools, "bools")]
    [InlineData(Timestamps, "timestamps")]
    [InlineData(Durations, "durations")]
    [InlineData(BytesMap, "bytes")]
    [InlineData(StringMaps, "string_maps")]
    public async Task Check_BadNameIndexInEachTypedMap_IsInvalidArgumentNamingIndexAndMap(int field, string mapName)
    {
        // The error names the map the index came from: this also proves each field number is the
        // one Istio uses for that type.
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);
        var attributes = new Pb().String(Words, "only-word").MapEntry(field, -7, v => { });

        var reply = await client.CallAsync("Check", CheckRequestBytes(attributes));

        reply.Status.ShouldBe(3);
        reply.Message.ShouldStartWith("Request could not be processed due to invalid attributes: ");
        reply.Message.ShouldContain("word index -7");
        reply.Message.ShouldContain($"in {mapName}");
    }

    [Theory]
    [InlineData(-5)]
    [InlineData(203)]
    [InlineData(100_000)]
    public async Task Check_BadStringValueIndex_IsInvalidArgumentNamingIt(int index)
    {
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);
        var attributes = new Pb().String(Words, "w").MapEntry(Strings, RequestPath, v => v.SInt32(2, index));

        var reply = await client.CallAsync("Check", CheckRequestBytes(attributes));

        reply.Status.ShouldBe(3);
        reply.Message.ShouldContain($"word index {index}");
        reply.Message.ShouldContain("request.path");
    }

    [Fact]
    public async Task Check_BadIndexInsideStringMap_IsInvalidArgument()
    {
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);
        var attributes = new Pb().MapEntry(StringMaps, RequestHeaders, v => v.Message(2, new Pb().MapEntry(1, -3, e => e.SInt32(2, Get))));

        var reply = await client.CallAsync("Check", CheckRequestBytes(attributes));

        reply.Status.ShouldBe(3);
        reply.Message.ShouldContain("word index -3");
        reply.Message.ShouldContain("request.headers");
    }

    [Fact]
    public async Task Check_ClientWithLongerGlobalDictionary_IsAnsweredAndItsUnknownAttributeIgnored()
    {
        // A newer proxy whose dictionary has words past our 203: Istio 1.0 did not see attributes
        // named by such words, and did not fail the request.
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);
        var attributes = new Pb().String(Words, "v").MapEntry(Strings, 250, v => v.SInt32(2, -1)).MapEntry(Strings, RequestPath, v => v.SInt32(2, -1));

        var reply = await client.CallAsync("Check", CheckRequestBytes(attributes, globalWordCount: 300));

        reply.Status.ShouldBe(0, reply.Message);
    }

    [Fact]
    public async Task Check_UndecodableMessage_IsInvalidArgumentAndServerKeepsServing()
    {
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);

        // Field 1, length-delimited, claims 50 bytes but only 2 follow.
        var reply = await client.CallAsync("Check", [0x0a, 50, 1, 2]);

        reply.Status.ShouldBe(3);
        reply.Message.ShouldContain("could not be decoded");
        (await client.CallAsync("Check", CheckRequestBytes(EveryValueType()))).Status.ShouldBe(0);
        fixture.Mixs.IsRunning.ShouldBeTrue();
    }

    [Fact]
    public async Task Check_OversizedMessage_IsResourceExhaustedAndServerKeepsServing()
    {
        // The fixture runs with --maxMessageSize 65536.
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);
        var big = new Pb().String(Words, new string('x', 70_000));

        var reply = await client.CallAsync("Check", CheckRequestBytes(big));

        reply.Status.ShouldBe(8);
        (await client.CallAsync("Check", CheckRequestBytes(EveryValueType()))).Status.ShouldBe(0);
    }

    [Fact]
    public async Task Report_DeltaEncodedWithDefaultWords_IsAccepted()
    {
        // As Istio's proxy batches: default_words shared, element 0 complete, later ones deltas.
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);
        var first = new Pb().MapEntry(Strings, SourceNamespace, v => v.SInt32(2, -1)).MapEntry(Int64s, ResponseCode, v => v.Int64(2, 200));
        var second = new Pb().MapEntry(Int64s, ResponseCode, v => v.Int64(2, 503));
        var request = new Pb().Message(1, first).Message(1, second).String(2, "ns-a").Varint(3, 203).ToArray();

        var reply = await client.CallAsync("Report", request);

        reply.Status.ShouldBe(0, reply.Message);
        reply.Payload.ShouldBeEmpty();
    }

    [Fact]
    public async Task Report_IndependentEncoding_IsAccepted()
    {
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);
        var element = new Pb().String(Words, "x").MapEntry(Strings, RequestPath, v => v.SInt32(2, -1));
        var request = new Pb().Message(1, element).Message(1, element).Varint(3, 203).Varint(4, 1).ToArray();

        (await client.CallAsync("Report", request)).Status.ShouldBe(0);
    }

    [Fact]
    public async Task Report_BadIndexInLaterElement_IsInvalidArgumentNamingTheElement()
    {
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);
        var good = new Pb().MapEntry(Strings, RequestPath, v => v.SInt32(2, -1));
        var bad = new Pb().MapEntry(Strings, RequestPath, v => v.SInt32(2, -9));
        var request = new Pb().Message(1, good).Message(1, good).Message(1, bad).String(2, "/a").Varint(3, 203).ToArray();

        var reply = await client.CallAsync("Report", request);

        reply.Status.ShouldBe(3);
        reply.Message.ShouldContain("attributes[2]");
        reply.Message.ShouldContain("word index -9");
    }

    [Fact]
    public async Task Report_NoReportRules_ALaterSetWithAnAttributeTwiceOrABadTimestamp_IsInvalidArgumentNamingIt()
    {
        // This mixs serves no config: no rule acts on Report, so its sets are only checked, with
        // every rule and the same messages as when they are decoded.
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);
        var good = new Pb().MapEntry(Strings, RequestPath, v => v.SInt32(2, -1)).MapEntry(Int64s, ResponseCode, v => v.Int64(2, 200));
        var twice = new Pb().MapEntry(Int64s, ResponseCode, v => v.Int64(2, 503)).MapEntry(Strings, ResponseCode, v => v.SInt32(2, -1));
        var badTime = new Pb().MapEntry(Timestamps, RequestTime, v => v.Message(2, new Pb().Int64(1, 1).Varint(2, 1_000_000_000)));

        var first = await client.CallAsync("Report", new Pb().Message(1, good).Message(1, good).Message(1, twice).String(2, "/a").Varint(3, 203).ToArray());
        var second = await client.CallAsync("Report", new Pb().Message(1, good).Message(1, badTime).String(2, "/a").Varint(3, 203).ToArray());

        first.Status.ShouldBe(3);
        first.Message.ShouldBe("Request could not be processed due to invalid attributes: attributes[2]: attribute 'response.code' is given more than once");
        second.Status.ShouldBe(3);
        second.Message.ShouldBe("Request could not be processed due to invalid attributes: attributes[1]: timestamp 'request.time' has nanos outside 0..999999999");
    }

    [Fact]
    public async Task Report_Empty_IsOk()
    {
        using var client = new HandEncodedClient(fixture.Mixs.GrpcAddress);

        (await client.CallAsync("Report", [])).Status.ShouldBe(0);
    }

    [Fact]
    public void HandEncoding_MatchesGeneratedEncoding()
    {
        // Our generated types read the hand-written bytes as the same message: a cross-check of
        // the field numbers in our .proto files against the ones written here from Istio's.
        var parsed = CheckRequest.Parser.ParseFrom(CheckRequestBytes(EveryValueType()));

        parsed.GlobalWordCount.ShouldBe(203u);
        parsed.DeduplicationId.ShouldBe("dedup-1");
        var a = parsed.Attributes;
        a.Words.ShouldBe(["my-namespace", "custom.ratio", "curl/7.61", "custom.flag"]);
        a.Strings[SourceNamespace].ShouldBe(-1);
        a.Int64S[RequestSize].ShouldBe(1234);
        a.Doubles[-2].ShouldBe(0.25);
        a.Bools[-4].ShouldBeTrue();
        a.Timestamps[RequestTime].Nanos.ShouldBe(123_456_789);
        a.Durations[ResponseDuration].Seconds.ShouldBe(1);
        a.Bytes[SourceIp].ShouldBe(ByteString.CopyFrom(10, 0, 0, 1));
        a.StringMaps[RequestHeaders].Entries[UserAgent].ShouldBe(-3);
    }
}
