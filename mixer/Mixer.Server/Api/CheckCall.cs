using System.Buffers;
using Grpc.Core;
using Mixer.Sdk;

namespace Mixer.Server.Api;

/// <summary>
/// A <c>istio.mixer.v1.CheckRequest</c> as read off the wire by hand: its attributes stay bytes
/// (decoded once, straight into the attribute bag), the rest is read into fields. Holds a pooled
/// buffer: <see cref="Dispose"/> returns it.
/// </summary>
internal sealed class CheckCall : IDisposable
{
    private byte[]? _buffer;
    private readonly int _attributesOffset;
    private readonly int _attributesLength;
    private readonly byte[]? _mergedAttributes;

    private CheckCall(byte[] buffer, int attributesOffset, int attributesLength, byte[]? merged, uint globalWordCount, string deduplicationId, List<Quota> quotas)
    {
        _buffer = buffer;
        _attributesOffset = attributesOffset;
        _attributesLength = attributesLength;
        _mergedAttributes = merged;
        GlobalWordCount = globalWordCount;
        DeduplicationId = deduplicationId;
        Quotas = quotas;
    }

    /// <summary>The encoded <c>CompressedAttributes</c> (field 1).</summary>
    public ReadOnlySpan<byte> Attributes => _mergedAttributes ?? (_buffer is null ? [] : _buffer.AsSpan(_attributesOffset, _attributesLength));

    /// <summary>Field 2.</summary>
    public uint GlobalWordCount { get; }

    /// <summary>Field 3.</summary>
    public string DeduplicationId { get; }

    /// <summary>Field 4, in wire order, a repeated name keeping its last value (map semantics).</summary>
    public IReadOnlyList<Quota> Quotas { get; }

    public readonly record struct Quota(string Name, long Amount, bool BestEffort);

    /// <summary>Parses a request; a body that is not one is INVALID_ARGUMENT with the reason.</summary>
    public static CheckCall Parse(DeserializationContext context)
    {
        var length = context.PayloadLength;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        context.PayloadAsReadOnlySequence().CopyTo(buffer);
        try
        {
            return Parse(buffer, length);
        }
        catch (InvalidDataException e)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"request message could not be decoded as CheckRequest: {e.Message}"));
        }
    }

    private static CheckCall Parse(byte[] buffer, int length)
    {
        int attrOffset = 0, attrLength = 0, attrCount = 0;
        List<(int Offset, int Length)>? parts = null;
        uint globalWordCount = 0;
        var dedup = string.Empty;
        var quotas = new List<Quota>();
        var r = new WireReader(buffer.AsSpan(0, length));
        try
        {
            while (r.TryReadTag(out var field, out var wire))
            {
                switch (field, wire)
                {
                    case (1, 2):
                        var l = r.ReadBytes().Length;
                        var o = r.Position - l;
                        if (attrCount++ == 0)
                        {
                            (attrOffset, attrLength) = (o, l);
                        }
                        else
                        {
                            // A repeated message field merges; for maps and repeated fields that is concatenation.
                            (parts ??= [(attrOffset, attrLength)]).Add((o, l));
                        }

                        break;
                    case (2, 0):
                        globalWordCount = (uint)r.ReadVarint();
                        break;
                    case (3, 2):
                        dedup = r.ReadString();
                        break;
                    case (4, 2):
                        var quota = QuotaEntry(r.ReadBytes());
                        var at = quotas.FindIndex(q => q.Name == quota.Name);
                        if (at >= 0)
                        {
                            quotas[at] = quota;
                        }
                        else
                        {
                            quotas.Add(quota);
                        }

                        break;
                    default:
                        r.Skip(wire);
                        break;
                }
            }
        }
        catch (WireFormatException e)
        {
            throw new InvalidDataException(e.Message, e);
        }

        byte[]? merged = null;
        if (parts is not null)
        {
            merged = new byte[parts.Sum(p => p.Length)];
            var at = 0;
            foreach (var (o, l) in parts)
            {
                Buffer.BlockCopy(buffer, o, merged, at, l);
                at += l;
            }
        }

        return new CheckCall(buffer, attrOffset, attrLength, merged, globalWordCount, dedup, quotas);
    }

    /// <summary>A quotas map entry: name (1) and QuotaParams (2: amount 1, best_effort 2).</summary>
    private static Quota QuotaEntry(ReadOnlySpan<byte> entry)
    {
        var name = string.Empty;
        long amount = 0;
        var bestEffort = false;
        var r = new WireReader(entry);
        while (r.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == 2)
            {
                name = r.ReadString();
            }
            else if (field == 2 && wire == 2)
            {
                var p = new WireReader(r.ReadBytes());
                while (p.TryReadTag(out var pf, out var pw))
                {
                    switch (pf, pw)
                    {
                        case (1, 0):
                            amount = p.ReadInt64();
                            break;
                        case (2, 0):
                            bestEffort = p.ReadVarint() != 0;
                            break;
                        default:
                            p.Skip(pw);
                            break;
                    }
                }
            }
            else
            {
                r.Skip(wire);
            }
        }

        return new Quota(name, amount, bestEffort);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } b)
        {
            ArrayPool<byte>.Shared.Return(b);
        }
    }
}
