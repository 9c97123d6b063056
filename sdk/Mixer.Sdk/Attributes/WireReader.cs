using System.Buffers.Binary;
using System.Text;

namespace Mixer.Sdk;

/// <summary>Thrown by <see cref="WireReader"/> on bytes that are not a protobuf message.</summary>
internal sealed class WireFormatException(string message) : Exception(message);

/// <summary>
/// A minimal protobuf reader over a span: tags, varints, zigzag, fixed64, length-delimited fields,
/// and skipping of fields it is not asked about (as generated parsers do with unknown fields).
/// </summary>
internal ref struct WireReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos;

    /// <summary>Bytes read so far.</summary>
    public readonly int Position => _pos;

    /// <summary>
    /// Reads one StringMap entry (a map&lt;sint32, sint32&gt; of word indexes: key field 1, value
    /// field 2), skipping other fields; absent fields read as 0.
    /// </summary>
    public static void ReadWordPair(ReadOnlySpan<byte> entryBytes, out int key, out int value)
    {
        var entry = new WireReader(entryBytes);
        key = 0;
        value = 0;
        while (entry.TryReadTag(out var f, out var wt))
        {
            if (f == 1 && wt == 0)
            {
                key = entry.ReadSInt32();
            }
            else if (f == 2 && wt == 0)
            {
                value = entry.ReadSInt32();
            }
            else
            {
                entry.Skip(wt);
            }
        }
    }

    /// <summary>The next field's number and wire type; false at the end.</summary>
    public bool TryReadTag(out int field, out int wireType)
    {
        if (_pos >= _data.Length)
        {
            field = 0;
            wireType = 0;
            return false;
        }

        var tag = ReadVarint();
        field = (int)(tag >> 3);
        wireType = (int)(tag & 7);
        if (field <= 0)
        {
            throw new WireFormatException($"invalid field number 0 at byte {_pos}");
        }

        return true;
    }

    public ulong ReadVarint()
    {
        // Tags, word indexes, lengths and map keys are nearly all one or two bytes.
        var pos = _pos;
        if ((uint)pos < (uint)_data.Length)
        {
            uint b0 = _data[pos];
            if (b0 < 0x80)
            {
                _pos = pos + 1;
                return b0;
            }

            if ((uint)(pos + 1) < (uint)_data.Length && _data[pos + 1] < 0x80)
            {
                _pos = pos + 2;
                return (b0 & 0x7F) | ((ulong)_data[pos + 1] << 7);
            }
        }

        return ReadLongVarint();
    }

    private ulong ReadLongVarint()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length)
            {
                throw new WireFormatException("message ends inside a varint");
            }

            var b = _data[_pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }

        throw new WireFormatException($"malformed varint ending at byte {_pos}");
    }

    public int ReadSInt32()
    {
        var v = (uint)ReadVarint();
        return (int)(v >> 1) ^ -(int)(v & 1);
    }

    public long ReadInt64() => (long)ReadVarint();

    public double ReadDouble()
    {
        if (_pos + 8 > _data.Length)
        {
            throw new WireFormatException("message ends inside a fixed64");
        }

        var v = BinaryPrimitives.ReadDoubleLittleEndian(_data.Slice(_pos, 8));
        _pos += 8;
        return v;
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        var length = ReadVarint();
        if (length > (ulong)(_data.Length - _pos))
        {
            throw new WireFormatException($"a field of {length} bytes runs past the end of the message");
        }

        var span = _data.Slice(_pos, (int)length);
        _pos += (int)length;
        return span;
    }

    public string ReadString() => Encoding.UTF8.GetString(ReadBytes());

    /// <summary>A length-delimited field as where its bytes are in the message, without reading them.</summary>
    public (int Start, int Length) ReadRange()
    {
        var span = ReadBytes();
        return (_pos - span.Length, span.Length);
    }

    /// <summary>Skips a field of <paramref name="wireType"/>.</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case 0:
                ReadVarint();
                break;
            case 1:
                Advance(8);
                break;
            case 2:
                ReadBytes();
                break;
            case 5:
                Advance(4);
                break;
            default:
                throw new WireFormatException($"unsupported wire type {wireType}");
        }
    }

    private void Advance(int n)
    {
        if (_pos + n > _data.Length)
        {
            throw new WireFormatException("message ends inside a fixed-size field");
        }

        _pos += n;
    }
}
