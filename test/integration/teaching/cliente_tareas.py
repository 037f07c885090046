"""Cliente de tareas del sistema de enseñanza (reproducción).

Como el original: un socket TCP, cada tarea se envía con sendall(json.dumps(tarea).encode())
sin salto de línea, y se lee la respuesta con recv. Aquí varias tareas usan la misma conexión.
Uso: cliente_tareas.py HOST PUERTO ID:ACCION:DATOS_JSON ...  (imprime cada respuesta)
"""
import json
import socket
import sys

HOST = "localhost"
PUERTO = 5000


def enviar_tarea(sock, tarea):
    sock.sendall(json.dumps(tarea).encode())
    respuesta = sock.recv(4096)
    return json.loads(respuesta.decode())


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else HOST
    puerto = int(sys.argv[2]) if len(sys.argv) > 2 else PUERTO
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect((host, puerto))
        for spec in sys.argv[3:]:
            id_tarea, accion, datos = spec.split(":", 2)
            tarea = {"id": id_tarea, "accion": accion, "datos": json.loads(datos)}
            print(json.dumps(enviar_tarea(sock, tarea)), flush=True)


if __name__ == "__main__":
    main()
