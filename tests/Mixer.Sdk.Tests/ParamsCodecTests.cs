using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Remote;
using Mixer.Testing;
using Mixer.Testing.SpyConfig;

namespace Mixer.Sdk.Tests;

public sealed class ParamsCodecTests
{
    private static ParamsCodec Codec() =>
        ParamsCodec.FromAdapterConfig(SpyAdapterServer.ParamsDescriptorBase64, out var error) ?? throw new InvalidOperationException(error);

    private static JsonElement Json(string text)
    {
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    [Fact]
    public void FromAdapterConfig_FindsTheMessageNamedParams_AsIstioDoes()
    {
        var codec = Codec();

        codec.MessageName.ShouldBe("adapter.spy.config.Params");
        codec.TypeUrl.ShouldBe("type.googleapis.com/adapter.spy.config.Params");
    }

    [Fact]
    public void FromAdapterConfig_Empty_MeansNoParams()
    {
        ParamsCodec.FromAdapterConfig("", out var error).ShouldBeNull();
        error.ShouldBeNull();
    }

    [Fact]
    public void FromAdapterConfig_WithoutAParamsMessage_OrNotADescriptor_SaysWhy()
    {
        var set = new FileDescriptorSet { File = { FileDescriptorProto.Parser.ParseFrom(DurationReflection.Descriptor.SerializedData) } };

        ParamsCodec.FromAdapterConfig(Convert.ToBase64String(set.ToByteArray()), out var missing).ShouldBeNull();
        ParamsCodec.FromAdapterConfig("!!", out var notBase64).ShouldBeNull();
        ParamsCodec.FromAdapterConfig(Convert.ToBase64String([0xff, 0xff, 0xff]), out var notProto).ShouldBeNull();

        missing.ShouldBe("cannot find a message named 'Params' in the adapter configuration descriptor");
        notBase64!.ShouldStartWith("is not base64 text");
        notProto!.ShouldStartWith("is not a serialized google.protobuf.FileDescriptorSet");
    }

    [Fact]
    public void Encode_AcceptsProtoAndJsonNames_AndScalarsWrittenEitherWay()
    {
        var problems = new List<ConfigProblem>();

        var bytes = Codec().Encode(Json("""{"file_path": 42, "maxEntries": "12", "enabled": "true", "ratio": "0.5", "mode": 2, "shards": "3"}"""), problems);

        problems.ShouldBeEmpty();
        Params.Parser.ParseFrom(bytes).ShouldBe(new Params { FilePath = "42", MaxEntries = 12, Enabled = true, Ratio = 0.5, Mode = Params.Types.Mode.Auto, Shards = 3 });
    }

    [Fact]
    public void Encode_ValuesThatDoNotFit_AreEachReportedWithTheirPath()
    {
        var problems = new List<ConfigProblem>();

        Codec().Encode(Json("""
            {
              "maxEntries": "many", "enabled": "maybe", "names": "solo", "shards": -1,
              "primary": {"port": "big", "colour": "red"},
              "backends": [{"host": "a"}, "b"],
              "limits": {"reads": "lots"},
              "flushInterval": "soon", "notBefore": "yesterday", "secret": "%%%"
            }
            """), problems);

        problems.Select(p => p.Field).ShouldBe(
            ["maxEntries", "enabled", "names", "shards", "primary.port", "primary.colour", "backends[1]", "limits.reads", "flushInterval", "notBefore", "secret"],
            ignoreOrder: true);
        problems.Single(p => p.Field == "primary.colour").Reason.ShouldStartWith("unknown field of adapter.spy.config.Params.Backend; its fields are host, port, tags");
        problems.Single(p => p.Field == "flushInterval").Reason.ShouldBe("must be a duration such as 500ms, 5s or 1m30s, not 'soon'");
        problems.Single(p => p.Field == "shards").Reason.ShouldBe("must be a non-negative integer, not a number");
    }

    [Fact]
    public void Decode_GivesJsonNames_EnumNames_AndWellKnownTypesAsText()
    {
        var message = new Params
        {
            FilePath = "f",
            Mode = Params.Types.Mode.On,
            Limits = { ["a"] = 3 },
            Backends = { new Params.Types.Backend { Host = "h", Port = 1 } },
            FlushInterval = Duration.FromTimeSpan(TimeSpan.FromSeconds(90)),
            NotBefore = Timestamp.FromDateTimeOffset(new DateTimeOffset(2018, 7, 31, 12, 0, 0, TimeSpan.Zero)),
            Offset = -4,
        };

        var json = Codec().Decode(message.ToByteArray());

        json.GetRawText().ShouldBe("""{"filePath":"f","mode":"ON","limits":{"a":3},"backends":[{"host":"h","port":1}],"flushInterval":"90s","notBefore":"2018-07-31T12:00:00Z","offset":-4}""");
    }

    [Fact]
    public void Unpack_ReadsAStructOrTheCodecsMessage_AndRefusesAnythingElse()
    {
        var codec = Codec();
        var problems = new List<ConfigProblem>();
        var packed = codec.Pack(Json("""{"filePath": "x"}"""), problems);
        var asStruct = Any.Pack(ParamsCodec.ToStruct(Json("""{"filePath": "y", "n": 2}""")));

        ParamsCodec.Unpack(packed, codec).GetProperty("filePath").GetString().ShouldBe("x");
        ParamsCodec.Unpack(asStruct, null).GetProperty("n").GetDouble().ShouldBe(2);
        ParamsCodec.Unpack(null, null).ValueKind.ShouldBe(JsonValueKind.Object);
        Should.Throw<InvalidOperationException>(() => ParamsCodec.Unpack(Any.Pack(new Duration()), codec)).Message.ShouldContain("google.protobuf.Duration");
        asStruct.TypeUrl.ShouldBe(ParamsCodec.StructTypeUrl);
    }
}
