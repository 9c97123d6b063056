using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Istio.Mixer.Adapter.Model.V1beta1;
using Mixer.Sdk.OutOfProcess.Tests.Config;
using T = Istio.Mixer.Template;

namespace Mixer.Sdk.OutOfProcess.Tests;

/// <summary>
/// Params encoded as the adapter's own <c>Params</c> message, as Istio 1.0's Mixer sends them
/// for an <c>adapter</c> resource with a config descriptor.
/// </summary>
public sealed class TypedParamsTests
{
    [Fact]
    public async Task TypedParams_WithTheirDescriptorRegistered_ReachTheAdapterAsCamelCaseJson()
    {
        var adapter = new RecorderAdapter();
        await using var host = await HostedAdapter.StartAsync(adapter, o => o.ParamsDescriptor = Params.Descriptor);
        var typed = new Params { DenyValues = { "bad" }, Grant = 4, ValidDuration = Duration.FromTimeSpan(TimeSpan.FromSeconds(3)) };
        typed.Labels["team_name"] = "payments";

        var r = await new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(host.Channel).HandleListEntryAsync(new()
        {
            Instance = new() { Name = "i", Value = "bad" },
            AdapterConfig = HostedAdapter.Typed(typed),
        });

        r.Status.Code.ShouldBe(7);
        r.ValidDuration.ToTimeSpan().ShouldBe(TimeSpan.FromSeconds(3));
        var handler = adapter.Built.Single();
        handler.Params.Grant.ShouldBe(4);
        handler.Params.Labels["teamName"].ShouldBe("payments");
        adapter.ParamsSeen.Single().GetProperty("denyValues")[0].GetString().ShouldBe("bad");
    }

    [Fact]
    public async Task TypedParams_DecodedWithTheAdapterResourcesDescriptorSet_WithoutACompiledClass()
    {
        var set = new Google.Protobuf.Reflection.FileDescriptorSet();
        set.File.Add(Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(DurationReflection.Descriptor.SerializedData));
        set.File.Add(Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(Params.Descriptor.File.SerializedData));
        var adapter = new RecorderAdapter();
        await using var host = await HostedAdapter.StartAsync(adapter, o => o.ParamsDescriptorSet = System.Convert.ToBase64String(set.ToByteArray()));
        var typed = new Params { DenyValues = { "bad" }, Grant = 4, ValidDuration = Duration.FromTimeSpan(TimeSpan.FromSeconds(3)) };
        typed.Labels["team_name"] = "payments";

        var r = await new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(host.Channel).HandleListEntryAsync(new()
        {
            Instance = new() { Name = "i", Value = "bad" },
            AdapterConfig = HostedAdapter.Typed(typed),
        });

        r.Status.Code.ShouldBe(7);
        r.ValidDuration.ToTimeSpan().ShouldBe(TimeSpan.FromSeconds(3));
        adapter.Built.Single().Params.Grant.ShouldBe(4);
        adapter.Built.Single().Params.Labels["teamName"].ShouldBe("payments");
    }

    [Fact]
    public async Task ParamsDescriptorSet_ThatIsNotBase64_StopsTheHostSayingSo()
    {
        var e = await Should.ThrowAsync<ArgumentException>(() => HostedAdapter.StartAsync(new RecorderAdapter(), o => o.ParamsDescriptorSet = "not base64!"));

        e.Message.ShouldStartWith("AdapterHostOptions.ParamsDescriptorSet is not base64 text");
    }

    [Fact]
    public async Task TypedParams_WithoutTheirDescriptor_AreInvalidArgumentNamingTheType()
    {
        await using var host = await HostedAdapter.StartAsync(new RecorderAdapter());

        var r = await new InfrastructureBackend.InfrastructureBackendClient(host.Channel).ValidateAsync(new ValidateRequest
        {
            AdapterConfig = HostedAdapter.Typed(new Params { Grant = 1 }),
        });

        r.Status.Code.ShouldBe((int)StatusCode.InvalidArgument);
        r.Status.Message.ShouldBe("adapter_config has type 'type.googleapis.com/adapter.recorder.config.Params'; this adapter reads type.googleapis.com/google.protobuf.Struct");
    }

    [Fact]
    public async Task TypedParams_ThatFailValidation_NameTheField()
    {
        await using var host = await HostedAdapter.StartAsync(new RecorderAdapter(), o => o.ParamsDescriptor = Params.Descriptor);

        var r = await new InfrastructureBackend.InfrastructureBackendClient(host.Channel).ValidateAsync(new ValidateRequest
        {
            AdapterConfig = HostedAdapter.Typed(new Params { Grant = -2 }),
        });

        r.Status.Code.ShouldBe((int)StatusCode.InvalidArgument);
        r.Status.Message.ShouldContain("grant: must not be negative, it is -2");
    }
}
