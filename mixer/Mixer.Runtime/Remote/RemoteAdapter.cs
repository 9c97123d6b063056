using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Mixer.Runtime.Config;
using Mixer.Runtime.Dispatch;
using Mixer.Runtime.Snapshot;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Remote;

namespace Mixer.Runtime.Remote;

/// <summary>
/// An <c>adapter</c> resource (Istio 1.0's <c>adapter.model.v1beta1.Info</c>): an out-of-process
/// adapter's name, description, templates, whether it is session-based, and the descriptor of its
/// <c>Params</c> message (null: it publishes none, and gets its params as a Struct).
/// </summary>
internal sealed record RemoteAdapterSpec(ConfigResource Resource, string Description, bool SessionBased, IReadOnlyList<string> Templates, ParamsCodec? Codec)
{
    public string Name => Resource.Key.Name;

    public AdapterInfo Info { get; } = new(Resource.Key.Name, Description, Templates);
}

/// <summary>
/// One <c>handler</c> resource that names an <c>adapter</c> resource: validates its params against
/// the adapter's descriptor and builds a <see cref="RemoteHandler"/> to its
/// <c>connection.address</c>.
/// </summary>
internal sealed class RemoteAdapter(
    RemoteAdapterSpec spec,
    string address,
    TimeSpan deadline,
    IReadOnlyDictionary<string, InstanceEntry> instances,
    IRemoteCallMetrics metrics) : IAdapter
{
    public AdapterInfo Info => spec.Info;

    /// <summary>What, beyond params and instances, makes two builds of this handler the same.</summary>
    public string Signature => $"remote:{spec.Resource.Digest}:{address}:{deadline.Ticks}";

    public IReadOnlyList<ConfigProblem> Validate(JsonElement parameters)
    {
        var problems = new List<ConfigProblem>();
        if (spec.Codec is { } codec)
        {
            codec.Encode(parameters, problems);
        }
        else if (parameters.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined))
        {
            problems.Add(new ConfigProblem(string.Empty, "params must be a map"));
        }

        return problems;
    }

    public async ValueTask<IHandler> BuildAsync(HandlerContext context, CancellationToken cancellationToken)
    {
        var problems = new List<ConfigProblem>();
        var config = spec.Codec is { } codec
            ? codec.Pack(context.Params, problems)
            : new Any { TypeUrl = ParamsCodec.StructTypeUrl, Value = ParamsCodec.ToStruct(context.Params).ToByteString() };
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems.Select(p => $"params.{p.Field}: {p.Reason}")));
        }

        var inferred = new Dictionary<string, Any>(StringComparer.Ordinal);
        foreach (var name in context.Instances.Keys)
        {
            if (!instances.TryGetValue(name, out var instance))
            {
                continue;
            }

            if (RemoteInstances.Unsendable(instance) is { } why)
            {
                throw new ArgumentException(why);
            }

            inferred[name] = RemoteInstances.InferredType(instance);
        }

        return await RemoteHandler.BuildAsync(
            new RemoteHandlerConfig(context.HandlerName, spec.Name, address, spec.SessionBased, config, inferred, deadline),
            metrics,
            context.Logger,
            cancellationToken).ConfigureAwait(false);
    }
}
